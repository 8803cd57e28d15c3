"""Retrieval strategies (arms): one small compiler per arm type, plan section -> DSL body."""

from . import dsl, knn, lexical, popular, structured  # noqa: F401  (register compilers)
from .base import ArmInput, Compiled, Skip, compiler_for

__all__ = ["ArmInput", "Compiled", "Skip", "compiler_for"]
