"""Statistics settings are part of the deployment settings: the settings file's [stats] table,
validated on load with the setting named, in the digest, and used by the statistics."""

from __future__ import annotations

import datetime as dt

import pytest

from metrics.settings import Settings, load_settings
from metrics.stats.lagging import assess
from metrics.stats.settings import StatsSettings
from queries.errors import XiaonengError


def test_stats_table_of_the_settings_file_sets_the_statistics(tmp_path):
    f = tmp_path / "settings.toml"
    f.write_text('top_n = 5\n\n[stats]\nmin_n = 50\nod_method = "multiplicative"\n'
                 "fdr_q = 0.1\n", encoding="utf-8")
    s = load_settings(f)
    assert s.top_n == 5
    assert (s.stats.min_n, s.stats.od_method, s.stats.fdr_q) == (50, "multiplicative", 0.1)
    assert s.stats.trim_share == StatsSettings().trim_share  # the rest keeps its defaults
    assert s.as_dict()["stats"]["min_n"] == 50
    assert s.digest() != Settings().digest()
    assert Settings().stats == StatsSettings()


@pytest.mark.parametrize("toml, words", [
    ("[stats]\nmin_n = -1\n", "stats.min_n must be a whole number ≥ 0, got -1"),
    ('[stats]\nod_method = "phi"\n', "stats.od_method must be one of multiplicative, additive"),
    ("[stats]\nalert_level = 0.999\n", "stats.alert_level must be below alarm_level"),
    ("[stats]\nfdr_q = 1.5\n", r"stats.fdr_q must be in \(0, 1.0\), got 1.5"),
    ("[stats]\ntrim_share = 0.6\n", r"stats.trim_share must be in \[0, 0.5\)"),
    ("[stats]\nwinsorize = true\n", r"unknown setting\(s\) \['stats.winsorize'\]"),
    ("stats = 3\n", "stats must be a table of settings"),
])
def test_invalid_statistics_settings_are_refused_naming_the_setting(toml, words, tmp_path):
    f = tmp_path / "settings.toml"
    f.write_text(toml, encoding="utf-8")
    with pytest.raises(XiaonengError, match=words):
        load_settings(f)


def test_assess_uses_the_statistics_settings_in_force(demo_tables, tmp_path):
    f = tmp_path / "settings.toml"
    f.write_text('[stats]\nod_method = "multiplicative"\nmin_n = 1000000\n', encoding="utf-8")
    a = assess(demo_tables, dt.date(2026, 9, 1), rules=load_settings(f))
    assert a.adjusted.settings["od_method"] == "multiplicative"
    if a.adjusted.adjusted:
        assert a.adjusted.method == "multiplicative"
    # nobody reaches a minimum N of a million: every unit is shown, none is ranked
    assert a.comparison["raw_rank"].null_count() == a.comparison.height
