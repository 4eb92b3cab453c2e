"""No free money (issue 20, part 1): the test payment provider, whose fixed tokens pay for
anything, is a development setting only, and nothing about it has a default secret.

Before: billing always used the test provider, so any user bought any pack or Pro with
`payment_token: "tok_test_succeed"`, and its webhook key defaulted to a known string."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from kinora.runtime.db import make_engine, session_factory
from kinora.runtime.errors import FailedPrecondition
from kinora.runtime.migrations import upgrade
from kinora.runtime.settings import SettingsError
from services.billing.domain import Billing
from services.billing.models import tables
from services.billing.payments import LocalTestProvider, payment_provider
from services.billing.server import MIGRATIONS
from services.billing.settings import BillingSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "billing"))
from billing_support import Clock, make_settings, open_users  # noqa: E402


def test_no_payment_setting_has_a_default_that_pays():
    fields = {f.name: f.default for f in dataclasses.fields(BillingSettings)}
    assert fields["dev_payments"] is False and fields["test_provider_secret"] is None
    with pytest.raises(SettingsError, match="KINORA_BILLING_TEST_PROVIDER_SECRET"):
        make_settings("postgresql+psycopg://x@h/db", test_provider_secret=None)


def test_a_deployment_without_a_provider_sells_nothing(pg_url):
    settings = make_settings(pg_url, dev_payments=False, test_provider_secret=None)
    provider = payment_provider(settings)
    assert not isinstance(provider, LocalTestProvider)
    upgrade(MIGRATIONS, pg_url)
    engine = make_engine(pg_url, pool_size=2)
    billing = Billing(settings, session_factory(engine), tables, provider, Clock())
    billing.prepare()
    try:
        open_users(billing, "u1")
        before = billing.balance("u1")
        for buy in (
            lambda: billing.purchase("u1", "starter", LocalTestProvider.SUCCEED),
            lambda: billing.start_subscription("u1", "pro", LocalTestProvider.SUCCEED),
        ):
            with pytest.raises(FailedPrecondition, match="payments are not set up") as refused:
                buy()
            assert refused.value.code == "payments_unavailable"
        assert billing.balance("u1") == before  # nothing granted, nothing half-written
    finally:
        billing.close()
        engine.dispose()


def test_no_stripe_setting_has_a_default_and_the_key_alone_chooses_stripe():
    from services.billing.payments import NoPaymentProvider, StripeProvider

    fields = {f.name: f.default for f in dataclasses.fields(BillingSettings)}
    for name in ("stripe_secret_key", "stripe_webhook_secret", "stripe_pro_price", "stripe_api_base"):
        assert fields[name] is None, name
    url = "postgresql+psycopg://x@h/db"
    stripe = dict(stripe_secret_key="sk_test_0123456789", stripe_webhook_secret="whsec_0123456789")
    assert isinstance(
        payment_provider(make_settings(url, dev_payments=False, test_provider_secret=None, **stripe)), StripeProvider
    )
    # A deployment's key wins over a leftover development setting; neither alone is the other.
    assert isinstance(payment_provider(make_settings(url, **stripe)), StripeProvider)
    assert isinstance(payment_provider(make_settings(url)), LocalTestProvider)
    assert isinstance(
        payment_provider(make_settings(url, dev_payments=False, test_provider_secret=None)), NoPaymentProvider
    )
    # Without the webhook secret no later settlement could be trusted; a key of the wrong kind
    # (a publishable key) is refused without echoing it.
    with pytest.raises(SettingsError, match="KINORA_BILLING_STRIPE_WEBHOOK_SECRET"):
        make_settings(url, stripe_secret_key="sk_test_0123456789")
    with pytest.raises(SettingsError) as wrong:
        make_settings(url, stripe_secret_key="pk_live_do_not_print_me", stripe_webhook_secret="whsec_0123456789")
    assert "KINORA_BILLING_STRIPE_SECRET_KEY" in str(wrong.value) and "do_not_print_me" not in str(wrong.value)
