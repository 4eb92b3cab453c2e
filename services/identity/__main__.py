"""python -m services.identity [serve|migrate|rotate-keys]"""

import sys

from kinora.runtime import bootstrap
from kinora.runtime.migrations import upgrade
from kinora.runtime.settings import SettingsError, load_settings
from services.identity.settings import IdentitySettings


def load() -> IdentitySettings:
    settings = load_settings(IdentitySettings)
    if not (settings.jwt_keys_dir or settings.jwt_key_secret or settings.internal_secret):
        raise SettingsError(
            [
                "KINORA_JWT_KEY_SECRET is required to encrypt the signing keys in the database "
                "(or set KINORA_JWT_PRIVATE_KEYS_DIR to read PEM files, or KINORA_INTERNAL_SECRET)"
            ]
        )
    return settings


def migrate(settings: IdentitySettings) -> None:
    from services.identity.server import MIGRATIONS

    upgrade(MIGRATIONS, settings.database_url)


def rotate_keys() -> int:
    """A new key signs from now on; the old ones stay in the JWKS until their
    tokens have expired. Running replicas pick it up within 30 seconds."""
    from kinora.runtime.db import make_engine, session_factory
    from services.identity.keys import make_store

    try:
        settings = load()
        migrate(settings)
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            kid = make_store(settings, session_factory(engine)).rotate()
        finally:
            engine.dispose()
    except (SettingsError, ValueError) as exc:
        print(f"identity: cannot rotate keys: {exc}", file=sys.stderr)
        return 2
    print(f"new signing key {kid}")
    return 0


def main(argv: list[str]) -> int:
    from services.identity.server import build

    if argv[:1] == ["rotate-keys"]:
        return rotate_keys()
    return bootstrap.main("identity", load, build, migrate, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
