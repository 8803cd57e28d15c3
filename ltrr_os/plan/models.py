"""Typed models of a YAML query plan.

A plan is what a relevance engineer edits: which index, how queries are understood,
which retrieval strategies (arms) exist, how the policy picks among them and how the
union is reranked. Unknown keys are errors (``extra="forbid"``) so a typo never silently
does nothing; the loader turns validation errors into ``file:line:column`` messages.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..bandit.config import BanditRetrieval
from ..engines.settings import EngineSettings

Boost = Annotated[float, Field(gt=0, le=1000, description="A positive multiplier.")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- index ---------------------------------------------------------------------------
class IndexSection(StrictModel):
    """The alias searched, the template it is built from, and what a hit returns."""

    alias: str = Field(..., min_length=1, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    template: str = Field(..., description="Bundled template name (music, products) or path.")
    id_field: str = Field(..., description="Document field holding the entity id.")
    fields: list[str] = Field(default_factory=list, description="_source fields returned.")
    popularity_field: str | None = None


# -- understanding -------------------------------------------------------------------
class SlotSpec(StrictModel):
    """One slot type tagged in queries.

    ``entity`` slots come from a gazetteer of the values of ``field`` in the index
    (typo-tolerant when ``fuzzy``); ``year``/``decade`` slots are recognised from the text.
    """

    kind: Literal["entity", "year", "decade"] = "entity"
    field: str = Field(..., description="Index field holding the values (keyword or numeric).")
    fuzzy: bool = True
    min_fuzzy_length: int = Field(5, ge=3, description="Shorter tokens must match exactly.")
    max_values: int = Field(200_000, ge=1, description="Gazetteer size cap (most frequent).")
    synonyms: dict[str, str] = Field(default_factory=dict, description="alias -> value")


class IntentRule(StrictModel):
    """An intent recognised by a leading phrase; ``strip`` removes it from the free text."""

    name: str = Field(..., min_length=1)
    prefixes: list[str] = Field(..., min_length=1)
    strip: bool = True


class UnderstandingConfig(StrictModel):
    slots: dict[str, SlotSpec] = Field(default_factory=dict)
    intents: list[IntentRule] = Field(default_factory=list)
    long_tail_min_tokens: int = Field(5, ge=2, description="Queries this long are long_tail.")


# -- strategies (arms) ---------------------------------------------------------------
class PopularityBias(StrictModel):
    """``function_score`` ``field_value_factor`` applied on top of text relevance."""

    field: str
    modifier: Literal[
        "none", "log", "log1p", "log2p", "ln", "ln1p", "ln2p", "square", "sqrt", "reciprocal"
    ] = "log1p"
    factor: float = Field(1.0, gt=0)
    missing: float = Field(0.0, ge=0)
    boost_mode: Literal["multiply", "sum", "replace", "avg", "max", "min"] = "multiply"


class ArmBase(StrictModel):
    size: int = Field(100, ge=1, le=10_000, description="Candidates this arm returns.")
    requires_slots: list[str] = Field(
        default_factory=list, description="Run only when one of these slots was tagged."
    )


class LexicalArm(ArmBase):
    type: Literal["lexical"]
    fields: dict[str, Boost] = Field(..., min_length=1, description="field -> boost")
    match_type: Literal["best_fields", "most_fields"] = "best_fields"
    tie_breaker: float = Field(0.0, ge=0, le=1)
    operator: Literal["or", "and"] = "or"
    minimum_should_match: str | None = None
    fuzziness: Literal["AUTO", "0", "1", "2"] | None = None
    popularity: PopularityBias | None = None

    @field_validator("minimum_should_match", "fuzziness", mode="before")
    @classmethod
    def _yaml_numbers(cls, v: Any) -> Any:
        """YAML reads ``fuzziness: 1`` / ``minimum_should_match: 2`` as ints; OpenSearch
        takes both as strings (and ``auto`` in any case)."""
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if isinstance(v, str) and v.lower() == "auto":
            return "AUTO"
        return v


class SlotUse(StrictModel):
    """How a tagged slot constrains the structured arm."""

    field: str
    mode: Literal["filter", "boost"] = "filter"
    boost: Boost = 2.0


class StructuredArm(ArmBase):
    type: Literal["structured"]
    slots: dict[str, SlotUse] = Field(..., min_length=1)
    text_fields: dict[str, Boost] = Field(default_factory=dict)
    popularity: PopularityBias | None = None


class KnnArm(ArmBase):
    type: Literal["knn"]
    field: str = "embedding"
    k: int = Field(100, ge=1, le=10_000)
    filter_slots: dict[str, str] = Field(
        default_factory=dict, description="slot -> field used as a knn pre-filter"
    )


class PopularArm(ArmBase):
    type: Literal["popular"]
    slots: dict[str, str] = Field(..., min_length=1, description="slot -> field to filter on")
    popularity_field: str


class DslArm(ArmBase):
    type: Literal["dsl"]
    template: str = Field(..., description="Mustache template of a JSON query body.")
    params: dict[str, str] = Field(
        default_factory=dict, description="template param -> source (query, slot:NAME, ctx:KEY)"
    )


Strategy = Annotated[
    LexicalArm | StructuredArm | KnnArm | PopularArm | DslArm, Field(discriminator="type")
]


# -- retrieval policy ----------------------------------------------------------------
class AllArms(StrictModel):
    policy: Literal["all"]


class FixedArms(StrictModel):
    policy: Literal["fixed"]
    arms: list[str] = Field(..., min_length=1)


Retrieval = Annotated[AllArms | FixedArms | BanditRetrieval, Field(discriminator="policy")]


# -- rerank / fusion -----------------------------------------------------------------
class RrfFusion(StrictModel):
    method: Literal["rrf"]
    k: int = Field(60, ge=1)
    weights: dict[str, float] = Field(default_factory=dict)
    policy_weights: bool = Field(
        False,
        description="With a bandit: multiply each chosen arm's weight by the policy's "
        "expected reward for it on this query, so the arm it trusts more leads.",
    )


class ScoreFusion(StrictModel):
    """Min-max normalised arm scores, weighted and summed."""

    method: Literal["score"]
    weights: dict[str, float] = Field(default_factory=dict)
    policy_weights: bool = Field(False, description="As for rrf.")


Rerank = Annotated[RrfFusion | ScoreFusion, Field(discriminator="method")]


class OutputSection(StrictModel):
    size: int = Field(10, ge=1, le=1000)
    max_query_chars: int = Field(512, ge=1, le=10_000, description="Longer queries are cut.")


class Plan(StrictModel):
    """A whole query plan (after ``extends`` and ``${ENV}`` are resolved)."""

    version: Literal[1] = 1
    name: str | None = None
    engine: EngineSettings = Field(default_factory=EngineSettings)
    index: IndexSection
    understanding: UnderstandingConfig = Field(default_factory=UnderstandingConfig)
    strategies: dict[str, Strategy] = Field(..., min_length=1)
    retrieval: Retrieval = Field(default_factory=lambda: AllArms(policy="all"))
    rerank: Rerank = Field(default_factory=lambda: RrfFusion(method="rrf"))
    output: OutputSection = Field(default_factory=OutputSection)

    @field_validator("strategies")
    @classmethod
    def _arm_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if not name.replace("_", "").isalnum():
                raise ValueError(f"arm name {name!r} must be letters, digits and '_'")
        return v

    @model_validator(mode="after")
    def _references(self) -> Plan:
        arms = set(self.strategies)
        slots = set(self.understanding.slots)
        if isinstance(self.retrieval, FixedArms | BanditRetrieval):
            for a in self.retrieval.arms:
                if a not in arms:
                    raise ValueError(
                        f"retrieval.arms names unknown arm {a!r}; arms: {sorted(arms)}"
                    )
        for name, arm in self.strategies.items():
            used = list(arm.requires_slots)
            if isinstance(arm, StructuredArm):
                used += list(arm.slots)
            elif isinstance(arm, KnnArm):
                used += list(arm.filter_slots)
            elif isinstance(arm, PopularArm):
                used += list(arm.slots)
            for s in used:
                if s not in slots:
                    raise ValueError(
                        f"strategies.{name} uses slot {s!r} that understanding.slots does not "
                        f"declare; slots: {sorted(slots)}"
                    )
        for w in getattr(self.rerank, "weights", {}):
            if w not in arms:
                raise ValueError(f"rerank.weights names unknown arm {w!r}")
        return self

    def active_arms(self) -> list[str]:
        """Arms the retrieval policy may run, in plan order."""
        if isinstance(self.retrieval, FixedArms | BanditRetrieval) and self.retrieval.arms:
            return list(self.retrieval.arms)
        return list(self.strategies)
