"""Generator storage: generation jobs (which double as the work queue), pools,
worker heartbeats, and takedown requests with the fingerprints they are matched by.
Billing is the billing service's (migration 0006 dropped the embedded allowance tables)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
)

from kinora.runtime.events import define_event_tables

metadata = MetaData()

generations = Table(
    "generations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("user_handle", String(64), nullable=False, server_default=""),
    # Unique per user; the id is derived from it, so racing retries collide on the key.
    Column("idempotency_key", String(255), nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # queued | in_progress | completed | failed | canceled
    Column("progress", Integer, nullable=False, server_default="0"),
    Column("stage", String(32), nullable=False, server_default="queued"),
    Column("prompt", Text, nullable=False),
    Column("model", String(64), nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("cameo_ids", Text, nullable=False, server_default="[]"),  # JSON list
    Column("remix_of", String(40), nullable=False, server_default=""),
    Column("extend_of", String(40), nullable=False, server_default=""),
    Column("input_image_key", String(255), nullable=False, server_default=""),
    Column("tier", Integer, nullable=False),  # kinora.common.v1.Tier value; higher runs first
    # Round-robin within a tier: the user's queued jobs at enqueue time.
    Column("fair_rank", Integer, nullable=False, server_default="0"),
    Column("reservation_id", String(64), nullable=False, server_default=""),
    # held → capture_pending → captured, or held → release_pending → released, or
    # held → hold_lost (billing let the hold expire; the job failed uncharged).
    # A *_pending state survives a crash and is retried (billing is idempotent by generation).
    Column("billing_state", String(20), nullable=False, server_default="held"),
    # When billing lets the hold go unless renewed; NULL: none (a stitch reserves nothing; a lost hold's is cleared).
    Column("hold_expires_at", DateTime(timezone=True), nullable=True),
    Column("error_code", String(64), nullable=False, server_default=""),
    Column("error_message", Text, nullable=False, server_default=""),
    Column("canceled_by", String(64), nullable=False, server_default=""),
    Column("media", Text, nullable=False, server_default="[]"),  # JSON list of media records
    Column("scene_report", Text, nullable=False, server_default=""),
    Column("compute_seconds", Float, nullable=False, server_default="0"),
    Column("taken_down", Boolean, nullable=False, server_default=false()),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_owner", String(80), nullable=False, server_default=""),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("pool_name", String(64), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    # The invisible watermark's payload (48 random bits), so a clip found in the
    # wild maps back to its generation; NULL for jobs made before it existed.
    Column("watermark_id", BigInteger, nullable=True),
    # The W3C trace context (JSON: traceparent, tracestate) of the CreateGeneration call, so the
    # worker's spans and the events it emits continue that trace.
    Column("trace_context", Text, nullable=True),
    # A stitch (services/generator/stitching.py): its sources in order (JSON list of
    # generation ids; "[]" for any other clip) and the crossfade at each join.
    Column("stitch_of", Text, nullable=False, server_default="[]"),
    Column("crossfade_seconds", Float, nullable=False, server_default="0"),
    # A storyboard's shots (JSON list of {prompt, seconds, camera, start, image_key}; "[]"
    # otherwise), an edit's source, and what the model makes and the price counts when it is
    # not `seconds` (an extension's new part; 0: `seconds`). Migration 0009.
    Column("shots", Text, nullable=False, server_default="[]"),
    Column("edit_of", String(40), nullable=False, server_default=""),
    Column("model_seconds", Integer, nullable=False, server_default="0"),
    UniqueConstraint("user_id", "idempotency_key", name="uq_generations_user_idempotency"),
    UniqueConstraint("watermark_id", name="uq_generations_watermark_id"),
    Index("ix_generations_queue", "status", "model", "tier", "fair_rank", "created_at"),
    Index("ix_generations_user_created", "user_id", "created_at"),
    Index("ix_generations_billing_state", "billing_state"),
)

pools = Table(
    "pools",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("state", String(16), nullable=False, server_default="active"),  # active | draining
    Column("drain_reason", Text, nullable=False, server_default=""),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

workers = Table(
    "workers",
    metadata,
    Column("worker_id", String(80), primary_key=True),
    Column("pool_name", String(64), nullable=False),
    Column("slots", Integer, nullable=False),
    Column("running", Integer, nullable=False, server_default="0"),
    Column("last_seen", DateTime(timezone=True), nullable=False),
)

tables = define_event_tables(metadata)


def outbox_rows():
    """The outbox table (for tests and tools that inspect emitted events)."""
    return tables.outbox


# Perceptual fingerprints (kinora/media/fingerprint.py): a completed clip's frames
# (kind "frame", position = sample index) and a generation's input image ("input",
# position = assumed crop). Hamming search is a scan (bit_count in SQL): see docs/ops.md.
fingerprints = Table(
    "fingerprints",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("generation_id", String(40), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("position", Integer, nullable=False),
    Column("hash", BigInteger, nullable=False),
    Index("ix_fingerprints_generation", "generation_id", "kind"),
)

# Frames of taken-down clips: an input image within IMAGE_MAX_DISTANCE of one is refused.
blocked_hashes = Table(
    "blocked_hashes",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("hash", BigInteger, nullable=False),
    Column("generation_id", String(40), nullable=False),
    Column("request_id", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Takedown requests from anyone (the US TAKE IT DOWN Act's 48 hours), worked by operators.
takedown_requests = Table(
    "takedown_requests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("contact", String(320), nullable=False),
    Column("statement", Text, nullable=False),
    Column("kind", String(16), nullable=False),  # likeness | intimate
    Column("generation_id", String(40), nullable=False, server_default=""),
    Column("link", Text, nullable=False, server_default=""),
    Column("file_sha256", String(64), nullable=False, server_default=""),
    Column("file_kind", String(8), nullable=False, server_default=""),  # video | image | ""
    Column("probe_hashes", Text, nullable=False, server_default="[]"),  # JSON: per frame, hashes per assumed crop
    Column("watermark_id", BigInteger, nullable=True),  # the invisible mark found in the file
    Column("status", String(16), nullable=False),  # pending | approved | rejected | completed
    Column("decided_by", String(80), nullable=False, server_default=""),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decision_reason", Text, nullable=False, server_default=""),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("targets", Text, nullable=False, server_default="[]"),  # JSON [{generation_id, why}]
    Column("removal_seconds", Float, nullable=True),  # request -> every target removed
    Index("ix_takedown_requests_status_created", "status", "created_at"),
)

takedown_audit = Table(
    "takedown_audit",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("request_id", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(32), nullable=False),  # filed | approved | removed | rejected | completed
    Column("detail", Text, nullable=False, server_default=""),
    Index("ix_takedown_audit_request", "request_id", "at"),
)
