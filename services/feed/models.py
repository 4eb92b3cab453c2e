"""Feed storage: the feed's own copies of users and generations (from identity
and generator events), posts, the social graph, reactions, and what each
user has been served (no repeats, daily caps, sessions)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    false,
    text,
)

from kinora.runtime.events import define_event_tables

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("handle", String(64), nullable=False, server_default=""),
    Column("region", String(8), nullable=False, server_default=""),
    Column("teen", Boolean, nullable=False, server_default=false()),
    # Parental controls (identity ParentalControlsChanged): 0 = no cap.
    Column("daily_item_cap", Integer, nullable=False, server_default="0"),
    Column("non_personalized", Boolean, nullable=False, server_default=false()),
    # Stated preferences: the text, its phrases as JSON [[phrase, +1|-1], ...]
    # and their embeddings (float32, row-major, one 384-d row per phrase).
    Column("prefs_text", Text, nullable=False, server_default=""),
    Column("prefs_phrases", Text, nullable=False, server_default="[]"),
    Column("prefs_vectors", LargeBinary, nullable=True),
    Column("prefs_updated_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The feed's copy of each generation: enough to check a publish request.
generations = Table(
    "generations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending | completed | failed | canceled | taken_down | deleted
    Column("prompt", Text, nullable=False, server_default=""),
    Column("cameo_ids", Text, nullable=False, server_default="[]"),  # JSON list
    Column("remix_of", String(40), nullable=False, server_default=""),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_feed_generations_user", "user_id", "updated_at"),
)

posts = Table(
    "posts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("author_user_id", String(64), nullable=False),
    Column("generation_id", String(40), nullable=False, unique=True),
    Column("caption", Text, nullable=False, server_default=""),
    Column("prompt", Text, nullable=False, server_default=""),
    Column("visibility", SmallInteger, nullable=False),  # feed.v1.Visibility
    Column("state", SmallInteger, nullable=False),  # feed.v1.PostState
    Column("cameo_ids", Text, nullable=False, server_default="[]"),
    Column("remix_of_post_id", String(36), nullable=False, server_default=""),
    Column("remix_of_generation_id", String(40), nullable=False, server_default=""),
    Column("region", String(8), nullable=False, server_default=""),
    Column("embedding", LargeBinary, nullable=True),  # float32[384] of caption + prompt
    # Counters the scorer reads (kept on the row so scoring needs no joins).
    Column("like_count", Integer, nullable=False, server_default="0"),
    Column("comment_count", Integer, nullable=False, server_default="0"),
    Column("remix_count", Integer, nullable=False, server_default="0"),  # published remixes
    Column("remix_generations", Integer, nullable=False, server_default="0"),  # remixes made (published or not)
    Column("created_after_view", Integer, nullable=False, server_default="0"),
    Column("cameo_requests", Integer, nullable=False, server_default="0"),
    Column("report_count", Integer, nullable=False, server_default="0"),
    Column("see_less_count", Integer, nullable=False, server_default="0"),
    Column("view_count", Integer, nullable=False, server_default="0"),
    Column("watch_ms", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # A followee's newest posts, walked backward from the index alone (index-only scan): the feed
    # reads at most a page's worth per followee however much a prolific one has posted.
    Index("ix_posts_author_created", "author_user_id", "created_at", postgresql_include=["id", "state", "visibility"]),
    Index("ix_posts_region_created", "region", "created_at"),
    # A parent's newest remixes. Partial: most posts are no remix, and without the predicate the
    # planner, seeing one common value (''), would rather scan every post.
    Index(
        "ix_posts_remix_of_created", "remix_of_post_id", "created_at", postgresql_where=text("remix_of_post_id <> ''")
    ),
    # Newest public posts (non-personalized feed) and the preference index's incremental refresh.
    Index("ix_posts_created", "created_at"),
    Index("ix_posts_updated", "updated_at"),
)

follows = Table(
    "follows",
    metadata,
    Column("follower_id", String(64), primary_key=True),
    Column("followee_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_follows_followee", "followee_id", "follower_id"),
)

blocks = Table(
    "blocks",
    metadata,
    Column("blocker_id", String(64), primary_key=True),
    Column("blocked_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_blocks_blocked", "blocked_id", "blocker_id"),
)

likes = Table(
    "likes",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("post_id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_likes_post", "post_id"),
)

comments = Table(
    "comments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("post_id", String(36), nullable=False),
    Column("author_user_id", String(64), nullable=False),
    Column("author_handle", String(64), nullable=False, server_default=""),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_comments_post_created", "post_id", "created_at"),
)

see_less = Table(
    "see_less",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("post_id", String(36), primary_key=True),
    Column("author_user_id", String(64), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

reports = Table(
    "reports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("post_id", String(36), nullable=False),
    Column("reporter_user_id", String(64), nullable=False),
    Column("reason", SmallInteger, nullable=False),
    Column("details", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_reports_post", "post_id"),
)

# Items served to a user: never served twice; also the views for "created after viewing".
served = Table(
    "served",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("post_id", String(36), primary_key=True),
    Column("served_at", DateTime(timezone=True), nullable=False),
    Column("viewed_at", DateTime(timezone=True), nullable=True),
    Column("watch_ms", Integer, nullable=False, server_default="0"),
    # A viewer's recent views only (generations' "created after viewing"); rows not viewed stay out.
    Index("ix_served_user_viewed", "user_id", "viewed_at", postgresql_where=text("viewed_at IS NOT NULL")),
)

daily_counts = Table(
    "daily_counts",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("item_count", Integer, nullable=False),
)

feed_sessions = Table(
    "feed_sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
)

tables = define_event_tables(metadata)
