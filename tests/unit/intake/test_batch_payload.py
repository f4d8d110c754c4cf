"""A ratings batch reaches intake as the JSON text the front door received (issue 16): decoded
once, here, with the front door's refusals of a body that is no JSON object or nests too deep."""

import json

import pytest

from services.common.errors import BadRequest, InvalidField
from services.intake import channels, handlers
from tests.unit.intake.test_handlers import OFFICER, Intake, rating


def test_the_text_is_the_batch_it_encodes():
    batch = {"ratings": [rating(level=5), rating(level=1, text="态度差")]}
    assert channels.batch_payload(json.dumps(batch, ensure_ascii=False)) == batch
    assert channels.batch_payload(batch) is batch  # tools and tests hand it over decoded


@pytest.mark.parametrize("text", ["", "[1, 2]", '{"ratings": [', "null", "\t{}\t[]"])
def test_a_text_that_is_no_json_object_is_a_400(text):
    with pytest.raises(BadRequest):
        channels.batch_payload(text)


def test_thousands_of_brackets_are_a_400_not_a_crash():
    with pytest.raises(BadRequest):
        channels.batch_payload('{"ratings": ' + "[" * 100_000 + "]" * 100_000 + "}")


def test_nesting_beyond_sixteen_levels_is_refused_naming_the_field():
    deep = {"x": 1}
    for _ in range(16):
        deep = {"x": deep}
    text = json.dumps({"ratings": [rating(applicant=deep)]})
    with pytest.raises(InvalidField) as refusal:
        channels.batch_payload(text)
    assert refusal.value.field.startswith("ratings[0].applicant.x")
    within = json.dumps({"ratings": [rating(applicant={"name": "张三"})]})
    assert channels.batch_payload(within)["ratings"][0]["applicant"] == {"name": "张三"}


def test_a_batch_handed_on_as_text_is_kept_like_a_decoded_one():
    intake = Intake()
    rows = [rating(level=5), rating(level=2, staff="S0008"), rating(level=9)]
    text = json.dumps({"ratings": rows}, ensure_ascii=False)
    result = handlers.submit_ratings_batch(intake.uow, intake.registrar, text, OFFICER, None)
    assert result["accepted"] == 2 and [r["index"] for r in result["rejected"]] == [2]
    assert len(result["cases_opened"]) == 1
