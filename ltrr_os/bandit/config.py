"""Plan section ``retrieval: {policy: bandit, ...}``: the learning-to-retrieve policy."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BUILTIN_FEATURES = (
    "bias", "query_length", "query_type", "slots", "intent", "language", "hour", "weekend",
    "fuzzy",
)  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContextFeature(_Strict):
    """One context feature. ``name`` is a built-in or ``ctx:KEY`` (a caller context key).

    ``ctx:`` features are one-hot over ``values`` (others -> an "other" column), hashed
    into ``buckets`` when ``values`` is empty, or numeric with ``kind: numeric``.
    """

    name: str
    kind: Literal["onehot", "hashed", "numeric", "binary"] | None = None
    values: list[str] = Field(default_factory=list)
    buckets: int = Field(8, ge=2, le=1024)
    scale: float = Field(1.0, gt=0, description="Numeric features are divided by this.")

    @model_validator(mode="after")
    def _known(self) -> ContextFeature:
        if not (self.name in BUILTIN_FEATURES or self.name.startswith("ctx:")):
            raise ValueError(
                f"unknown context feature {self.name!r}; use one of {list(BUILTIN_FEATURES)} "
                "or ctx:KEY for a key the caller passes in `context`"
            )
        return self


class RewardSpec(_Strict):
    """How engagement turns into per-arm rewards."""

    weights: dict[str, float] = Field(
        default_factory=lambda: {"click": 1.0, "play": 1.0, "purchase": 2.0}
    )
    rank_discount: bool = Field(False, description="Weight by 1/log2(1+rank) in the arm.")
    cost_per_candidate: float = Field(0.0, ge=0, description="Subtracted per fetched candidate.")


class BanditRetrieval(_Strict):
    policy: Literal["bandit"]
    learner: Literal["linucb", "lints", "lingreedy", "epsilon_greedy", "softmax"] = "linucb"
    alpha: float = Field(1.0, gt=0, description="LinUCB/LinTS exploration width.")
    epsilon: float = Field(0.1, ge=0, le=1, description="Greedy learners' random-arm rate.")
    tau: float = Field(1.0, gt=0, description="Softmax temperature.")
    l2_lambda: float = Field(1.0, gt=0)
    arms: list[str] = Field(default_factory=list, description="Arms to choose from (all).")
    max_arms: int = Field(2, ge=1, le=20, description="Arms run per search.")
    exploration: float = Field(
        0.1, ge=0, le=1, description="Probability that the last slot goes to a random other arm."
    )
    budget: int = Field(200, ge=1, le=10_000, description="Total candidates per search.")
    allocation: Literal["fixed", "proportional"] = "fixed"
    min_candidates: int = Field(10, ge=1, description="Smallest budget given to a chosen arm.")
    context: list[ContextFeature] = Field(
        default_factory=lambda: [
            ContextFeature(name=n)
            for n in ("bias", "query_length", "query_type", "slots", "fuzzy", "intent")
        ]
    )
    reward: RewardSpec = Field(default_factory=RewardSpec)
    seed: int = 0
    update_every: int = Field(1, ge=1, description="Apply feedback in batches of this many.")

    @model_validator(mode="after")
    def _budget(self) -> BanditRetrieval:
        if self.min_candidates * self.max_arms > self.budget:
            raise ValueError(
                f"budget {self.budget} cannot give {self.max_arms} arms at least "
                f"{self.min_candidates} candidates each"
            )
        return self
