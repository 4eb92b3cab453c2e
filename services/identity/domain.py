"""Identity's public front: `Identity` puts the rooms together and is what the
server calls. Each rule lives in its room:

- core.py (IdentityCore): the database, event tables, settings, signing keys
  and password hasher; loading and showing a user, the user's events,
  sign-in attempt counting, access-token minting, paging;
- validation.py: handles, passwords, birth dates, invite and link codes;
- users.py: sign-up, user lookups, the profile;
- signin.py: sign-in, refresh-token rotation, sign-out, revoked sessions;
- invites.py: invite allowances and codes;
- apikeys.py: API keys, their exchange for tokens, their webhooks;
- guardians.py: guardian links (start, confirm, approve, unlink);
- controls.py: a teen's parental controls;
- account.py (Accounts): password change and account deletion;
- verification.py (Verifications), liveness.py, face.py, voice.py,
  enrolment.py: cameo verification and enrolled faces;
- keys.py: signing keys; topics.py: identity's topics and events.

Plain synchronous code over SQLAlchemy; the gRPC servicer runs it in threads.
Every change and its events commit together."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from kinora.common.v1 import common_pb2
from kinora.identity.v1 import identity_pb2
from kinora.runtime.auth import Principal
from kinora.runtime.events import EventTables
from services.identity.apikeys import ApiKeys
from services.identity.controls import Controls
from services.identity.core import IdentityCore
from services.identity.guardians import GuardianLinks
from services.identity.invites import Invites
from services.identity.keys import KeyRing
from services.identity.settings import IdentitySettings
from services.identity.signin import Issued, SignIn
from services.identity.users import Users

__all__ = ["Identity", "Issued"]


class Identity:
    def __init__(
        self, sessions_: sessionmaker[Session], tables: EventTables, settings: IdentitySettings, keyring: KeyRing
    ):
        self.core = core = IdentityCore(sessions_, tables, settings, keyring)
        self.sessions, self.tables, self.settings, self.keyring = sessions_, tables, settings, keyring
        self.hasher = core.hasher
        self.signin = SignIn(core)
        self.controls = Controls(core)
        self.users = Users(core, self.signin, self.controls)
        self.invites = Invites(core)
        self.api_keys = ApiKeys(core)
        self.guardians = GuardianLinks(core)

    # -- users (users.py) ------------------------------------------------------

    def sign_up(self, req: identity_pb2.SignUpRequest) -> Issued:
        return self.users.sign_up(req)

    def get_user(self, caller: Principal, user_id: str) -> identity_pb2.User:
        return self.users.get_user(caller, user_id)

    def get_user_by_handle(self, caller: Principal, handle: str) -> identity_pb2.User:
        return self.users.get_user_by_handle(caller, handle)

    def batch_get_users(self, caller: Principal, user_ids: list[str]) -> list[identity_pb2.User]:
        return self.users.batch_get_users(caller, user_ids)

    def update_profile(self, caller: Principal, req: identity_pb2.UpdateProfileRequest) -> identity_pb2.User:
        return self.users.update_profile(caller, req)

    # -- sessions and tokens (signin.py) ---------------------------------------

    def sign_in(self, handle_raw: str, password: str, client_address: str) -> Issued:
        return self.signin.sign_in(handle_raw, password, client_address)

    def refresh(self, token: str, client_address: str) -> identity_pb2.TokenPair:
        return self.signin.refresh(token, client_address)

    def sign_out(self, caller: Principal | None, token: str, all_sessions: bool) -> None:
        self.signin.sign_out(caller, token, all_sessions)

    def revoked_sessions(self) -> list[str]:
        return self.signin.revoked_sessions()

    # -- invites (invites.py) --------------------------------------------------

    def create_invite(self, caller: Principal) -> identity_pb2.Invite:
        return self.invites.create_invite(caller)

    def list_invites(self, caller: Principal, page: common_pb2.PageRequest) -> tuple[list[identity_pb2.Invite], str]:
        return self.invites.list_invites(caller, page)

    # -- API keys (apikeys.py) -------------------------------------------------

    def create_api_key(
        self, caller: Principal, req: identity_pb2.CreateApiKeyRequest
    ) -> tuple[identity_pb2.ApiKey, str]:
        return self.api_keys.create_api_key(caller, req)

    def list_api_keys(self, caller: Principal, page: common_pb2.PageRequest) -> tuple[list[identity_pb2.ApiKey], str]:
        return self.api_keys.list_api_keys(caller, page)

    def revoke_api_key(self, caller: Principal, key_id: str) -> identity_pb2.ApiKey:
        return self.api_keys.revoke_api_key(caller, key_id)

    def set_api_key_webhook(self, caller: Principal, key_id: str, url: str) -> identity_pb2.ApiKeyWebhook:
        return self.api_keys.set_api_key_webhook(caller, key_id, url)

    def get_api_key_webhook(self, caller: Principal, key_id: str) -> identity_pb2.ApiKeyWebhook:
        return self.api_keys.get_api_key_webhook(caller, key_id)

    def delete_api_key_webhook(self, caller: Principal, key_id: str) -> bool:
        return self.api_keys.delete_api_key_webhook(caller, key_id)

    def exchange_api_key(self, secret: str) -> identity_pb2.ExchangeApiKeyResponse:
        return self.api_keys.exchange_api_key(secret)

    # -- guardian links (guardians.py) and parental controls (controls.py) ----

    def start_guardian_link(self, caller: Principal, role: int) -> tuple[identity_pb2.GuardianLink, str, datetime]:
        return self.guardians.start_guardian_link(caller, role)

    def confirm_guardian_link(self, caller: Principal, code_raw: str) -> identity_pb2.GuardianLink:
        return self.guardians.confirm_guardian_link(caller, code_raw)

    def approve_guardian_link(self, caller: Principal, link_id: str) -> identity_pb2.GuardianLink:
        return self.guardians.approve_guardian_link(caller, link_id)

    def unlink_guardian(self, caller: Principal, link_id: str, reason: str = "") -> identity_pb2.GuardianLink:
        return self.guardians.unlink_guardian(caller, link_id, reason)

    def list_guardian_links(self, caller: Principal) -> list[identity_pb2.GuardianLink]:
        return self.guardians.list_guardian_links(caller)

    def get_parental_controls(self, caller: Principal, teen_id: str) -> identity_pb2.ParentalControls:
        return self.controls.get_parental_controls(caller, teen_id)

    def set_parental_controls(
        self, caller: Principal, teen_id: str, controls: identity_pb2.ParentalControls
    ) -> identity_pb2.ParentalControls:
        return self.controls.set_parental_controls(caller, teen_id, controls)
