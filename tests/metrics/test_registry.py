"""The metric registry is complete, consistent with the fact tables, and covers metrics.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metrics.registry import METRICS, validate_registry
from metrics.settings import Settings, load_settings
from queries.errors import XiaonengError

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "metrics.md"


def test_registry_has_no_problems():
    assert validate_registry() == []


def test_every_metric_id_named_in_metrics_md_is_registered():
    if not SPEC.exists():
        pytest.skip("shared/spec not beside the checkout")
    text = SPEC.read_text(encoding="utf-8")
    table_ids = set(re.findall(r"^\| `([a-z0-9_]+)`", text, flags=re.M))
    listed = set(re.findall(r"`(warnings|yellow_cards|red_cards|revoked_cards|startup_days|"
                            r"construction_days|property_days|be_index|median_used_days|"
                            r"p90_used_days|avg_materials|avg_steps)`", text))
    registered = {m.id for m in METRICS}
    assert (table_ids | listed) - registered == set()


def test_every_metric_has_both_languages_a_definition_and_a_source():
    for m in METRICS:
        assert m.zh and m.en and m.definition_zh and m.definition_en and m.source, m.id


def test_settings_defaults_are_those_of_metrics_md():
    s = Settings()
    assert (s.warn_days, s.warn_share, s.red_grace_days, s.rectify_days, s.callback_days,
            s.report_lag_days) == (1, 0.8, 3, 15, 1, 1)
    assert s.online_channels == ("online", "mobile")
    assert s.review_score_scale == (0, 3, 6, 8, 10)
    # equal across the four pillars, equal within: government service has six indicators
    assert s.weight("startup_days") == pytest.approx(0.25)
    assert s.weight("online_rate") == pytest.approx(0.25 / 6)


@pytest.mark.parametrize("bad, words", [
    ({"warn_share": 1.5}, "warn_share"),
    ({"rectify_days": -1}, "rectify_days"),
    ({"online_channels": ["internet"]}, "online_channels"),
    ({"be_weights": {"nonsense": 1}}, "nonsense"),
    ({"colour": "red"}, "unknown setting"),
])
def test_invalid_settings_are_refused_with_a_message_naming_the_setting(bad, words, tmp_path):
    with pytest.raises(XiaonengError, match=words):
        load_settings(tmp_path / "none.toml", overrides=bad)


def test_settings_file_overrides_defaults_and_changes_the_digest(tmp_path):
    f = tmp_path / "settings.toml"
    f.write_text("rectify_days = 5\nonline_channels = ['online', 'mobile', 'self_service']\n")
    s = load_settings(f)
    assert s.rectify_days == 5 and "self_service" in s.online_channels
    assert s.digest() != Settings().digest()
