"""Shared rate-limit budgets in Redis, for replicas sending as the same apps."""

from lark_service.adapters.shared_limits.redis_budget import RedisLimiterBudget, open_redis_budget

__all__ = ["RedisLimiterBudget", "open_redis_budget"]
