"""The whole permission matrix, enumerated and checked through CheckUse.

policy (4) x relationship (self, approved, mutual, follower only, stranger)
x blocked x owner age (adult, teen) x requester age (adult, teen).

The expectation table below is written out by hand, not derived from the
service's rule. Teen owners here have a guardian cap of "everyone", so every
policy can be chosen and the teen-protection rule itself is what is tested
(the cap is tested in test_cameo.py). For "self" the requester is the owner:
their age is the owner's, and "blocked" means the owner tried to block
themselves, which is refused, so the answer is still "own cameo".
"""

import grpc
import pytest
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.common.v1 import common_pb2 as common
from services.cameo.domain import ConsentChecker

POLICIES = [common.CAMEO_POLICY_ONLY_ME, common.CAMEO_POLICY_APPROVED, common.CAMEO_POLICY_MUTUALS,
            common.CAMEO_POLICY_EVERYONE]

# Columns: only me | approved | mutuals | everyone.
# OWN = allowed (own cameo), APP = allowed (approved), MUT = allowed (mutual),
# ALL = allowed (everyone), NP = not permitted, BLK = blocked, TEEN = teen protection.
# Row key: owner age, relationship, blocked, requester age ("-" = same person).
EXPECTED = """
owner  relationship  blocked requester | only_me approved mutuals everyone
adult  self          no      -         | OWN     OWN      OWN     OWN
adult  self          yes     -         | OWN     OWN      OWN     OWN
adult  approved      no      adult     | NP      APP      APP     APP
adult  approved      no      teen      | NP      APP      APP     APP
adult  approved      yes     adult     | BLK     BLK      BLK     BLK
adult  approved      yes     teen      | BLK     BLK      BLK     BLK
adult  mutual        no      adult     | NP      NP       MUT     MUT
adult  mutual        no      teen      | NP      NP       MUT     MUT
adult  mutual        yes     adult     | BLK     BLK      BLK     BLK
adult  mutual        yes     teen      | BLK     BLK      BLK     BLK
adult  follower      no      adult     | NP      NP       NP      ALL
adult  follower      no      teen      | NP      NP       NP      ALL
adult  follower      yes     adult     | BLK     BLK      BLK     BLK
adult  follower      yes     teen      | BLK     BLK      BLK     BLK
adult  stranger      no      adult     | NP      NP       NP      ALL
adult  stranger      no      teen      | NP      NP       NP      ALL
adult  stranger      yes     adult     | BLK     BLK      BLK     BLK
adult  stranger      yes     teen      | BLK     BLK      BLK     BLK
teen   self          no      -         | OWN     OWN      OWN     OWN
teen   self          yes     -         | OWN     OWN      OWN     OWN
teen   approved      no      adult     | NP      APP      APP     APP
teen   approved      no      teen      | NP      APP      APP     APP
teen   approved      yes     adult     | BLK     BLK      BLK     BLK
teen   approved      yes     teen      | BLK     BLK      BLK     BLK
teen   mutual        no      adult     | NP      NP       MUT     MUT
teen   mutual        no      teen      | NP      NP       MUT     MUT
teen   mutual        yes     adult     | BLK     BLK      BLK     BLK
teen   mutual        yes     teen      | BLK     BLK      BLK     BLK
teen   follower      no      adult     | NP      NP       NP      TEEN
teen   follower      no      teen      | NP      NP       NP      ALL
teen   follower      yes     adult     | BLK     BLK      BLK     BLK
teen   follower      yes     teen      | BLK     BLK      BLK     BLK
teen   stranger      no      adult     | NP      NP       NP      TEEN
teen   stranger      no      teen      | NP      NP       NP      ALL
teen   stranger      yes     adult     | BLK     BLK      BLK     BLK
teen   stranger      yes     teen      | BLK     BLK      BLK     BLK
"""

CODES = {"OWN": (True, pb.DECISION_REASON_ALLOWED_OWNER), "APP": (True, pb.DECISION_REASON_ALLOWED_APPROVED),
         "MUT": (True, pb.DECISION_REASON_ALLOWED_MUTUAL), "ALL": (True, pb.DECISION_REASON_ALLOWED_EVERYONE),
         "NP": (False, pb.DECISION_REASON_NOT_PERMITTED), "BLK": (False, pb.DECISION_REASON_BLOCKED),
         "TEEN": (False, pb.DECISION_REASON_TEEN_PROTECTION)}


def cells():
    lines = [line for line in EXPECTED.strip().splitlines()[1:]]
    for line in lines:
        key, answers = line.split("|")
        owner, relationship, blocked, requester = key.split()
        for policy, answer in zip(POLICIES, answers.split()):
            yield owner, relationship, blocked == "yes", requester, policy, answer


def test_table_covers_every_cell():
    keys = {(o, r, b, q, p) for o, r, b, q, p, _ in cells()}
    assert len(keys) == len(list(cells())) == 2 * (2 + 4 * 2 * 2) * 4  # 144 rows x policies (self has no age split)
    for owner in ("adult", "teen"):
        for rel in ("approved", "mutual", "follower", "stranger"):
            for blocked in (False, True):
                for req in ("adult", "teen"):
                    for p in POLICIES:
                        assert (owner, rel, blocked, req, p) in keys


async def test_permission_matrix(replica, world):
    stub = replica.stub
    owners = {}
    for owner_age in ("adult", "teen"):
        for policy in POLICIES:
            teen = owner_age == "teen"
            uid = world.user(f"o_{owner_age}_{policy}", teen=teen)
            if teen:
                world.guardian_cap(uid, common.CAMEO_POLICY_EVERYONE)
            cameo = world.verify(uid, teen=teen)
            await stub.SetPolicy(pb.SetPolicyRequest(cameo_id=cameo, policy=policy), metadata=world.as_user(uid))
            owners[(owner_age, policy)] = (uid, cameo)

    checked = 0
    for owner_age, relationship, blocked, requester_age, policy, answer in cells():
        owner, cameo = owners[(owner_age, policy)]
        me = world.as_user(owner)
        if relationship == "self":
            requester = owner
            if blocked:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.BlockUser(pb.BlockUserRequest(cameo_id=cameo, user_id=owner), metadata=me)
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        else:
            requester = world.user(f"r{checked}", teen=requester_age == "teen")
            if relationship == "approved":
                await stub.Approve(pb.ApproveRequest(cameo_id=cameo, user_id=requester), metadata=me)
            if relationship in ("mutual", "follower"):
                world.follow(requester, owner)
            if relationship == "mutual":
                world.follow(owner, requester)
            if blocked:
                await stub.BlockUser(pb.BlockUserRequest(cameo_id=cameo, user_id=requester), metadata=me)
        reply = await stub.CheckUse(pb.CheckUseRequest(requester_user_id=requester, cameo_ids=[cameo],
                                                       prompt="walking a dog in the park"),
                                    metadata=world.as_service("generator"))
        d = reply.decisions[0]
        cell = (owner_age, relationship, blocked, requester_age, common.CameoPolicy.Name(policy))
        assert (d.allowed, d.reason) == CODES[answer], (cell, d)
        assert reply.all_allowed == d.allowed
        assert d.message and d.revision > 0
        # The portable (SQLAlchemy) read gives the same answer as the PostgreSQL fast path.
        with Session(world.engine) as s:
            portable = ConsentChecker(None).read(s, requester, [cameo])[0][0]
        assert (portable.allowed, portable.reason, portable.revision) == (d.allowed, d.reason, d.revision)
        checked += 1
    assert checked == 144
