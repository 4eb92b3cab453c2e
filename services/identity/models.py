"""Identity's tables (SQLAlchemy Core). Secrets are never stored in the clear:
passwords are argon2id hashes, refresh tokens, API keys and link codes are
SHA-256 hashes (they are long random strings, so a fast hash is enough),
signing keys are encrypted."""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from kinora.runtime.events import define_event_tables

metadata = MetaData()

Id = String(36)
Hash = String(64)  # hex SHA-256
When = DateTime(timezone=True)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("handle", String(30), nullable=False, unique=True),  # stored lower case
    Column("display_name", String(80), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("region", String(2), nullable=False),
    Column("birthdate", Date, nullable=False),
    Column("age_group", String(8), nullable=False),  # adult | teen
    Column("cameo_verified", Boolean, nullable=False, default=False),
    Column("invited_by_user_id", Id, nullable=True),
    Column("created_at", When, nullable=False),
    Column("updated_at", When, nullable=False),
)

invites = Table(
    "invites",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("created_by_user_id", Id, ForeignKey("users.id"), nullable=True),  # null: minted by an admin
    Column("created_at", When, nullable=False),
    Column("expires_at", When, nullable=False),
    Column("used_by_user_id", Id, ForeignKey("users.id"), nullable=True),
    Column("used_at", When, nullable=True),
    Index("ix_invites_created_by", "created_by_user_id", "created_at"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_key", LargeBinary, nullable=False),  # AES-GCM(nonce || ciphertext), AAD = kid
    Column("public_jwk", Text, nullable=False),
    Column("created_at", When, nullable=False),
    Column("retired_at", When, nullable=True),  # stops signing; stays in the JWKS one token lifetime
)

# A refresh family is one sign-in; each refresh spends a token and issues the next.
sessions = Table(
    "sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", When, nullable=False),
    Column("revoked_at", When, nullable=True, index=True),  # read by ListRevokedSessions
    Column("revoke_reason", String(32), nullable=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", Hash, primary_key=True),
    Column("session_id", Id, ForeignKey("sessions.id"), nullable=False, index=True),
    Column("created_at", When, nullable=False),
    Column("expires_at", When, nullable=False),
    Column("spent_at", When, nullable=True),
    Column("client_address", String(64), nullable=False, default=""),
)

# One counter per subject, bumped atomically (INSERT ... ON CONFLICT DO UPDATE) before the password
# is checked, so concurrent guesses are all counted; a success takes its attempt back.
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("subject", String(120), primary_key=True),  # "address:<ip>" or "handle:<handle>@<ip>"
    Column("failures", Integer, nullable=False),
    Column("last_attempt_at", When, nullable=False),
    Column("blocked_until", When, nullable=True),
    Index("ix_signin_failures_last_attempt", "last_attempt_at"),  # pruning old rows
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("name", String(80), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("secret_hash", Hash, nullable=False, unique=True),
    Column("scopes", Text, nullable=False),  # space separated
    Column("created_at", When, nullable=False),
    Column("last_used_at", When, nullable=True),
    Column("expires_at", When, nullable=True),
    Column("revoked_at", When, nullable=True, index=True),  # read by ListRevokedSessions (key tokens' sid)
    # The key's webhook endpoint, if set: where video.completed / video.failed go, and the
    # Standard Webhooks secret they are signed with (the receiver's to verify, so kept as is).
    Column("webhook_url", String(2048), nullable=True),
    Column("webhook_secret", String(64), nullable=True),
    Column("webhook_updated_at", When, nullable=True),
    Index("ix_api_keys_user", "user_id", "created_at"),
)

guardian_links = Table(
    "guardian_links",
    metadata,
    Column("id", Id, primary_key=True),
    Column("guardian_user_id", Id, ForeignKey("users.id"), nullable=True),  # null until confirmed, if the teen started
    Column("teen_user_id", Id, ForeignKey("users.id"), nullable=True),
    Column("started_by_user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("status", String(10), nullable=False),  # pending | awaiting | active | unlinked | expired
    Column("code_hash", Hash, nullable=True, unique=True),  # cleared once used
    Column("code_expires_at", When, nullable=False),
    Column("created_at", When, nullable=False),
    Column("confirmed_at", When, nullable=True),
    Column("unlinked_at", When, nullable=True),
    Column("unlinked_by_user_id", Id, nullable=True),  # a user id, or "service:admin" (support)
    Column("unlink_reason", String(500), nullable=True),  # support's reason: the audit record
    # While awaiting: the teen's current or previous guardian, whose approval the link needs.
    Column("approver_user_id", Id, nullable=True),
    Index("ix_guardian_links_teen", "teen_user_id", "status"),
    Index("ix_guardian_links_guardian", "guardian_user_id", "status"),
)

parental_controls = Table(
    "parental_controls",
    metadata,
    Column("teen_user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("daily_feed_item_cap", Integer, nullable=False),
    Column("non_personalized_feed", Boolean, nullable=False),
    Column("max_cameo_policy", Integer, nullable=False),  # kinora.common.v1.CameoPolicy
    Column("updated_at", When, nullable=False),
    Column("updated_by_user_id", Id, nullable=True),
)

verifications = Table(
    "verifications",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("status", String(10), nullable=False),  # pending | passed | failed | expired
    Column("digits", String(16), nullable=False),
    Column("head_turns", String(64), nullable=False),  # space separated: left right up down
    Column("nonce_hash", Hash, nullable=False),
    Column("expires_at", When, nullable=False),
    Column("nonce_used_at", When, nullable=True),
    Column("checks", Text, nullable=True),  # JSON list of check results
    Column("likeness", Text, nullable=True),  # JSON LikenessAssets
    Column("created_at", When, nullable=False),
    Column("completed_at", When, nullable=True),
)

# The faces of verified people (kinora.ml.faces embeddings from the liveness
# clip's crops): the latest passed verification's, kept until erasure so an
# image of the person is recognised on every path into a clip.
face_embeddings = Table(
    "face_embeddings",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False, index=True),
    Column("verification_id", Id, ForeignKey("verifications.id"), nullable=False),
    Column("embedding", LargeBinary, nullable=False),  # 128 little-endian float32
    Column("created_at", When, nullable=False),
)

# Sessions and API keys of deleted accounts: their rows are gone with the account, but access
# tokens naming them (sid) must stay refused until they expire (ListRevokedSessions).
# Random ids only; nothing here links to a person.
ended_credentials = Table(
    "ended_credentials",
    metadata,
    Column("id", Id, primary_key=True),
    Column("ended_at", When, nullable=False, index=True),
)

# Handles of deleted accounts never come back (nobody can take over a deleted person's name,
# which other people's comments, remixes and memories still point to). SHA-256 of the handle.
retired_handles = Table(
    "retired_handles",
    metadata,
    Column("handle_hash", Hash, primary_key=True),
    Column("retired_at", When, nullable=False),
)

# Handles cameo's characters hold (from cameo's CharacterCreated/CharacterDeleted events): people
# and characters share one namespace, so sign-up refuses these. A deleted character's row goes.
reserved_handles = Table(
    "reserved_handles",
    metadata,
    Column("handle", String(30), primary_key=True),
    Column("cameo_id", Id, nullable=False, unique=True),
    Column("owner_user_id", Id, nullable=False),
    Column("reserved_at", When, nullable=False),
)

tables = define_event_tables(metadata)
