"""The relay's confirm bookkeeping: a round counts only when every publish was confirmed."""

from services.common.outbox import Confirms


def published(confirms: Confirms, n: int) -> None:
    for _ in range(n):
        confirms.published()


def test_a_round_is_confirmed_only_when_every_tag_is():
    confirms = Confirms()
    published(confirms, 3)
    confirms.ack(1)
    confirms.ack(3)
    assert not confirms.all_confirmed()  # 2 is still out
    confirms.ack(2)
    assert confirms.all_confirmed()


def test_a_multiple_ack_covers_every_tag_up_to_its_own():
    confirms = Confirms()
    published(confirms, 200)
    confirms.ack(150, multiple=True)
    assert not confirms.all_confirmed()
    confirms.ack(200, multiple=True)
    assert confirms.all_confirmed()


def test_single_acks_after_a_multiple_one_join_up():
    confirms = Confirms()
    published(confirms, 5)
    confirms.ack(5)
    confirms.ack(3, multiple=True)
    assert not confirms.all_confirmed()
    confirms.ack(4)
    assert confirms.all_confirmed() and confirms.confirmed == set()


def test_a_later_round_on_the_same_channel_waits_for_its_own_tags():
    confirms = Confirms()
    published(confirms, 2)
    confirms.ack(2, multiple=True)
    published(confirms, 2)  # tags 3 and 4
    assert not confirms.all_confirmed()
    confirms.ack(4, multiple=True)
    assert confirms.all_confirmed()


def test_a_nack_is_kept():
    confirms = Confirms()
    published(confirms, 2)
    confirms.nack(1)
    confirms.ack(2, multiple=True)
    assert confirms.nacked and confirms.all_confirmed()
