"""A site's link (services.common.links): the two shovels' definitions and where they point."""

from services.common import links

LINK = links.SiteLink(
    site="XJK",
    site_amqp_uri="amqp://guest:guest@127.0.0.1:5701/",
    site_management_url="http://guest:guest@127.0.0.1:15701/",
    district_amqp_uris=[f"amqp://guest:guest@127.0.0.1:{port}/" for port in (5681, 5686, 5691)],
)


def test_both_shovels_confirm_before_they_acknowledge_and_keep_the_routing_key_and_headers():
    up, down = (links.shovel_definitions(LINK)[name] for name in links.shovel_names("XJK"))
    for shovel in (up, down):
        assert shovel["ack-mode"] == "on-confirm"
        assert shovel["src-delete-after"] == "never"
        # the event type (routing key) and the signature header cross unchanged
        assert "dest-exchange-key" not in shovel and "dest-add-forward-headers" not in shovel
    assert (up["src-queue"], up["dest-exchange"]) == ("bancheng.link.to-district", "intake.events")
    assert (down["src-queue"], down["dest-exchange"]) == (
        "bancheng.link.XJK.from-district",
        "coordination.events",
    )


def test_the_district_side_lists_every_cluster_node_and_the_default_vhost_has_no_path():
    up, down = (links.shovel_definitions(LINK)[name] for name in links.shovel_names("XJK"))
    district = ["amqp://guest:guest@127.0.0.1:5681", "amqp://guest:guest@127.0.0.1:5686",
                "amqp://guest:guest@127.0.0.1:5691"]  # fmt: skip
    assert up["dest-uri"] == district and down["src-uri"] == district
    assert up["src-uri"] == down["dest-uri"] == "amqp://guest:guest@127.0.0.1:5701"
    # RabbitMQ reads a trailing "/" as the vhost "", which does not exist
    assert links.shovel_uri("amqp://u:p@h:1/bancheng") == "amqp://u:p@h:1/bancheng"
    assert links.shovel_uri("amqp://u:p@h:1") == "amqp://u:p@h:1"


def test_everything_the_sites_intake_follows_comes_back():
    from services.intake.service import IntakeService

    followed = {
        entrypoint.event_type
        for member in vars(IntakeService).values()
        for entrypoint in getattr(member, "nameko_entrypoints", ())
        if getattr(entrypoint, "source_service", None) == "coordination"
    }
    assert followed and followed <= set(links.FOLLOWED_COORDINATION_EVENTS)


def test_a_link_file_round_trips(tmp_path):
    path = LINK.save(tmp_path)
    assert path == tmp_path / "xjk" / "link.json"
    assert links.SiteLink.load("XJK", tmp_path) == LINK
