"""The loaded taxonomy: risk taxonomies, requirement catalogs and crosswalks (read-only)."""

from anzhi.api.taxonomy.router import router

__all__ = ["router"]
