"""Outside services the checks read: Cloudflare (GraphQL analytics, D1), Sentry, Clerk,
Slack, and TLS/RDAP.
"""
