"""Cameo storage (SQLAlchemy Core). PostgreSQL holds the authoritative consent
state; every consent check reads it (see docs/cameo.md, "Consistency").

Enum columns store the protobuf enum numbers (CameoPolicy, ApprovalStatus, ...)
so the order of policies (ONLY_ME < APPROVED < MUTUALS < EVERYONE) is numeric.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)

from kinora.runtime.db import BigId
from kinora.runtime.events import define_event_tables

metadata = MetaData()

ID = String(36)


def _now_column(name: str) -> Column:
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now())


# Our copy of identity's users (handle, age group, guardian cap), built from events.
users = Table(
    "users",
    metadata,
    Column("user_id", ID, primary_key=True),
    Column("handle", String(64), nullable=False, server_default=""),
    Column("age_group", Integer, nullable=False, server_default="0"),
    # Guardian's most open cameo policy for a teen; NULL until controls arrive.
    Column("max_cameo_policy", Integer, nullable=True),
    _now_column("updated_at"),
)

cameos = Table(
    "cameos",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_user_id", ID, nullable=False),
    Column("owner_handle", String(64), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("policy", Integer, nullable=False),
    Column("status", Integer, nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("owner_age_group", Integer, nullable=False),
    Column("max_policy", Integer, nullable=False),
    Column("likeness", LargeBinary, nullable=False),  # serialized common.v1.LikenessAssets
    Column("verification_id", String(64), nullable=False, server_default=""),
    Column("restriction_count", Integer, nullable=False, server_default="0"),
    # Bumped in the same transaction as every consent change.
    Column("revision", BigInteger, nullable=False, server_default="1"),
    Column("verified_at", DateTime(timezone=True), nullable=False),
    _now_column("created_at"),
    _now_column("updated_at"),
    # pb.CameoKind: a verified person (one per user) or a character (several per user).
    Column("kind", Integer, nullable=False, server_default="1"),
    # A character's own handle (a person is mentioned by owner_handle); NULL for people.
    Column("handle", String(64), nullable=True),
    Column("description", String(500), nullable=False, server_default=""),
    Index("ix_cameos_owner_handle", "owner_handle"),
    Index("uq_cameos_person_owner", "owner_user_id", unique=True, postgresql_where=text("kind = 1")),
    Index("uq_cameos_handle", "handle", unique=True),
    Index("ix_cameos_owner_kind", "owner_user_id", "kind"),
)

# A character's reference images (PNG, scaled down), what a person's face crops are to the model.
# Kept here, not in identity's blob folder: they are the owner's upload, not a verified likeness.
character_images = Table(
    "character_images",
    metadata,
    Column("cameo_id", ID, ForeignKey("cameos.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("png", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", ID, primary_key=True),
    Column("cameo_id", ID, ForeignKey("cameos.id"), nullable=False),
    Column("user_id", ID, nullable=False),
    Column("user_handle", String(64), nullable=False, server_default=""),
    Column("status", Integer, nullable=False),
    Column("message", String(500), nullable=False, server_default=""),
    _now_column("requested_at"),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("cameo_id", "user_id", name="uq_approvals_cameo_user"),
)

blocks = Table(
    "blocks",
    metadata,
    Column("cameo_id", ID, ForeignKey("cameos.id"), primary_key=True),
    Column("user_id", ID, primary_key=True),
    Column("user_handle", String(64), nullable=False, server_default=""),
    _now_column("blocked_at"),
)

restrictions = Table(
    "restrictions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("cameo_id", ID, ForeignKey("cameos.id"), nullable=False),
    Column("text", String(300), nullable=False),
    _now_column("created_at"),
    Index("ix_restrictions_cameo", "cameo_id"),
)

# Our copy of feed's follow graph: one row per "follower follows followee".
follows = Table(
    "follows",
    metadata,
    Column("follower_id", ID, primary_key=True),
    Column("followee_id", ID, primary_key=True),
    _now_column("updated_at"),
)

# Our copy of feed's user-level blocks (BlockChanged): a user the owner blocked
# on the platform can't use the owner's cameo either.
user_blocks = Table(
    "user_blocks",
    metadata,
    Column("blocker_id", ID, primary_key=True),
    Column("blocked_id", ID, primary_key=True),
    _now_column("updated_at"),
)

appearances = Table(
    "appearances",
    metadata,
    Column("id", ID, primary_key=True),
    Column("cameo_id", ID, ForeignKey("cameos.id"), nullable=False),
    Column("kind", Integer, nullable=False),
    Column("state", Integer, nullable=False),
    Column("generation_id", String(64), nullable=False),
    Column("post_id", String(64), nullable=False, server_default=""),
    Column("creator_user_id", ID, nullable=False),
    Column("creator_handle", String(64), nullable=False, server_default=""),
    Column("prompt", Text, nullable=False, server_default=""),
    _now_column("created_at"),
    _now_column("updated_at"),
    UniqueConstraint("cameo_id", "generation_id", name="uq_appearances_cameo_generation"),
    Index("ix_appearances_generation", "generation_id"),
    Index("ix_appearances_cameo_created", "cameo_id", "created_at"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("cameo_id", ID, nullable=False),
    Column("actor_user_id", ID, nullable=False, server_default=""),
    Column("actor_handle", String(64), nullable=False, server_default=""),
    Column("generation_id", String(64), nullable=False, server_default=""),
    Column("post_id", String(64), nullable=False, server_default=""),
    Column("message", String(500), nullable=False),
    Column("read", Boolean, nullable=False, server_default=false()),
    _now_column("created_at"),
    Index("ix_notifications_user_created", "user_id", "created_at"),
)

# Append-only (a PostgreSQL trigger refuses UPDATE and DELETE; see the migration).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("cameo_id", ID, nullable=False),
    Column("action", Integer, nullable=False),
    Column("actor_user_id", String(64), nullable=False),
    Column("subject_user_id", String(64), nullable=False, server_default=""),
    Column("detail_json", Text, nullable=False, server_default="{}"),
    Column("revision", BigInteger, nullable=False),
    _now_column("created_at"),
    Index("ix_audit_log_cameo", "cameo_id", "id"),
)

tables = define_event_tables(metadata)
