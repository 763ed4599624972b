"""The target's API: the client and its answers, declared requests, latency readings,
the safety guard, forged tokens, Violet's quota and the contract diff.
"""
