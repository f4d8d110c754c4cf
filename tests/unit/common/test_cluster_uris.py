"""An AMQP_URI naming the district cluster's nodes (``;``-separated, kombu's failover list) is
understood alike by everything that reads it: pika, the broker users, the vhost."""

from services.common import broker_users, event_queues

CLUSTER = (
    "amqp://guest:guest@127.0.0.1:5681/bancheng;"
    "amqp://guest:guest@127.0.0.1:5686/bancheng;amqp://guest:guest@127.0.0.1:5691/bancheng"
)


def test_the_node_uris_of_a_cluster_and_of_one_node():
    assert event_queues.amqp_uris(CLUSTER) == CLUSTER.split(";")
    assert event_queues.amqp_uris("amqp://guest:guest@127.0.0.1:5672/") == [
        "amqp://guest:guest@127.0.0.1:5672/"
    ]
    assert event_queues.amqp_uris(CLUSTER + ";") == CLUSTER.split(";"), "a trailing ; is no node"


def test_pika_tries_every_node_in_turn():
    parameters = event_queues.pika_parameters(CLUSTER)
    assert [p.port for p in parameters] == [5681, 5686, 5691]
    assert {p.virtual_host for p in parameters} == {"bancheng"}


def test_each_node_is_given_the_services_own_user():
    uri = broker_users.amqp_uri_for(CLUSTER, "intake", "s3cret")
    assert uri.split(";") == [
        f"amqp://bancheng-intake:s3cret@127.0.0.1:{port}/bancheng" for port in (5681, 5686, 5691)
    ]


def test_rpc_queues_are_quorum_and_named_as_nameko_names_them():
    assert event_queues.RPC_QUEUE_ARGUMENTS == {"x-queue-type": "quorum"}
    assert event_queues.rpc_queue("intake") == "rpc-intake"
    assert set(event_queues.RPC_SERVICES) == set(broker_users.SERVICES) - {"gateway"}


def test_every_service_with_an_rpc_entrypoint_and_only_those_get_a_quorum_rpc_queue():
    from services.common.rpc import Rpc
    from services.gateway.service import GatewayService

    def serves_rpc(cls) -> bool:
        return any(
            isinstance(entrypoint, Rpc)
            for member in vars(cls).values()
            for entrypoint in getattr(member, "nameko_entrypoints", ())
        ) or any(serves_rpc(base) for base in cls.__bases__)

    with_rpc = {cls.name for cls in event_queues.consuming_services() if serves_rpc(cls)}
    assert with_rpc == set(event_queues.RPC_SERVICES)
    assert not serves_rpc(GatewayService)


def test_the_vhost_of_a_cluster_uri_list():
    from tools import localrun

    assert localrun.vhost_of(CLUSTER) == "bancheng"
    assert localrun.vhost_of("amqp://g:g@127.0.0.1:5681/;amqp://g:g@127.0.0.1:5686/") == "/"
