"""The link metrics' rules (services.common.link_metrics): the oldest waiting message's age
from what the readings saw, the series a reading gives, which link is watched."""

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from services.common import link_metrics, links
from services.common.link_metrics import (
    FROM_DISTRICT,
    TO_DISTRICT,
    last_seen_empty,
    oldest_waiting,
)

LINK = links.SiteLink(
    site="XJK",
    site_amqp_uri="amqp://guest:guest@127.0.0.1:5701/",
    site_management_url="http://guest:guest@127.0.0.1:15701/",
    district_amqp_uris=["amqp://guest:guest@127.0.0.1:5681/"],
)


def test_an_empty_queue_waits_nothing_and_an_unknown_one_is_unknown():
    empty_at = last_seen_empty(None, 0, now=100.0)
    assert empty_at == 100.0 and oldest_waiting(empty_at, 0, now=100.0) == 0.0
    # the broker did not answer: nothing learnt, nothing exported
    assert last_seen_empty(empty_at, None, now=110.0) == 100.0
    assert oldest_waiting(empty_at, None, now=110.0) is None


def test_the_oldest_waits_since_the_queue_was_last_seen_empty():
    empty_at = last_seen_empty(None, 0, now=50.0)
    for now, ready in ((55.0, 3), (60.0, 7), (65.0, 7)):
        empty_at = last_seen_empty(empty_at, ready, now)
        assert oldest_waiting(empty_at, ready, now) == now - 50.0
    # drained by the shovel: none waits, and a new backlog counts from that reading
    empty_at = last_seen_empty(empty_at, 0, now=70.0)
    assert oldest_waiting(empty_at, 0, now=70.0) == 0.0
    empty_at = last_seen_empty(empty_at, 2, now=75.0)
    assert oldest_waiting(empty_at, 2, now=80.0) == 10.0


def test_a_queue_never_seen_empty_counts_from_the_first_reading():
    empty_at = last_seen_empty(None, 4, now=500.0)
    assert oldest_waiting(empty_at, 4, now=500.0) == 0.0
    assert oldest_waiting(last_seen_empty(empty_at, 4, 530.0), 4, now=530.0) == 30.0
    assert oldest_waiting(None, 4, now=530.0) is None


def test_the_collector_keeps_each_direction_apart(monkeypatch):
    clock = iter([100.0, 130.0])
    collector = link_metrics.LinkCollector(LINK, clock=lambda: next(clock))
    monkeypatch.setattr(
        link_metrics, "shovels_running", lambda link: {TO_DISTRICT: False, FROM_DISTRICT: False}
    )
    depths = {links.TO_DISTRICT_QUEUE: [0, 5], links.from_district_queue("XJK"): [2, None]}
    monkeypatch.setattr(link_metrics, "ready_messages", lambda uri, queue: depths[queue].pop(0))
    first = collector.sample()
    assert first.backlog == {TO_DISTRICT: 0, FROM_DISTRICT: 2} and not first.up
    second = collector.sample()
    assert second.oldest == {TO_DISTRICT: 30.0, FROM_DISTRICT: None}
    assert second.backlog == {TO_DISTRICT: 5, FROM_DISTRICT: None}


def scrape(reading: link_metrics.LinkReading, monkeypatch) -> str:
    collector = link_metrics.LinkCollector(LINK)
    monkeypatch.setattr(collector, "read", lambda: reading)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def test_the_series_of_a_link_that_is_down_with_a_backlog(monkeypatch):
    reading = link_metrics.LinkReading(
        "XJK",
        running={TO_DISTRICT: False, FROM_DISTRICT: True},
        backlog={TO_DISTRICT: 12, FROM_DISTRICT: None},
        oldest={TO_DISTRICT: 61.25, FROM_DISTRICT: None},
    )
    text = scrape(reading, monkeypatch)
    assert 'bancheng_site_link_up{site="XJK"} 0.0' in text
    assert 'bancheng_site_link_shovel_running{direction="to_district",site="XJK"} 0.0' in text
    assert 'bancheng_site_link_shovel_running{direction="from_district",site="XJK"} 1.0' in text
    assert 'bancheng_site_link_backlog_messages{direction="to_district",site="XJK"} 12.0' in text
    assert (
        'bancheng_site_link_oldest_waiting_seconds{direction="to_district",site="XJK"} 61.25'
        in text
    )
    # the district did not answer: no series for it rather than a made-up zero
    for family in ("backlog_messages", "oldest_waiting_seconds"):
        assert f'bancheng_site_link_{family}{{direction="from_district"' not in text


def test_the_series_of_a_link_that_is_up(monkeypatch):
    both = dict.fromkeys((TO_DISTRICT, FROM_DISTRICT))
    reading = link_metrics.LinkReading(
        "XJK",
        running=dict.fromkeys(both, True),
        backlog=dict.fromkeys(both, 0),
        oldest=dict.fromkeys(both, 0.0),
    )
    text = scrape(reading, monkeypatch)
    assert 'bancheng_site_link_up{site="XJK"} 1.0' in text
    for direction in (TO_DISTRICT, FROM_DISTRICT):
        labels = f'{{direction="{direction}",site="XJK"}}'
        assert f"bancheng_site_link_backlog_messages{labels} 0.0" in text
        assert f"bancheng_site_link_oldest_waiting_seconds{labels} 0.0" in text


def test_the_link_watched_comes_from_the_deployment_or_the_local_link_file(tmp_path):
    config = {
        "AMQP_URI": "amqp://site:pw@rabbitmq:5672/",
        "RABBIT_MANAGEMENT_URL": "http://site:pw@rabbitmq:15672/",
        "BANCHENG": {"SITE_NODE": "xjk"},
    }
    deployed = link_metrics.site_link_from(
        config, {"DISTRICT_AMQP_URI": "amqps://a:b@d1:5671/bancheng;amqps://a:b@d2:5671/bancheng"}
    )
    assert deployed == links.SiteLink(
        "XJK",
        "amqp://site:pw@rabbitmq:5672/",
        "http://site:pw@rabbitmq:15672/",
        ["amqps://a:b@d1:5671/bancheng", "amqps://a:b@d2:5671/bancheng"],
    )
    LINK.save(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(links.LINKS_DIR_SETTING, str(tmp_path))
        assert link_metrics.site_link_from(config, {}) == LINK
    with pytest.raises(RuntimeError, match="SITE_NODE"):
        link_metrics.site_link_from({**config, "BANCHENG": {}}, {})
