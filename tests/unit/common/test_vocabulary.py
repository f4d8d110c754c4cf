"""The one vocabulary: every code the services use has its Chinese word, unknown codes show as is."""

import pytest

from services.accountability import domain as accountability
from services.common import auth, vocabulary
from services.common.vocabulary import label
from services.coordination import domain as coordination
from services.intake import domain as intake

EVERY_CODE = [
    (
        vocabulary.STATE_LABELS,
        {
            state
            for sources, target in coordination.TRANSITIONS.values()
            for state in {*sources, target}
        },
    ),
    (vocabulary.TYPE_LABELS, set(coordination.TYPES)),
    (vocabulary.MEASURE_LABELS, set(coordination.MEASURES)),
    (vocabulary.OUTCOME_LABELS, set(coordination.OUTCOMES)),
    (vocabulary.CHANNEL_LABELS, set(intake.CHANNELS)),
    (vocabulary.APPLICANT_KIND_LABELS, set(intake.APPLICANT_KINDS)),
    (vocabulary.CAUSE_LABELS, set(accountability.CAUSES)),
    (vocabulary.SANCTION_LABELS, set(accountability.SANCTION_KINDS)),
    (vocabulary.ROLE_LABELS, set(auth.ROLES)),
]


@pytest.mark.parametrize(("table", "codes"), EVERY_CODE)
def test_every_code_the_services_use_has_a_chinese_word(table, codes):
    assert codes <= set(table)
    assert all(word and word != code for code, word in table.items())


def test_the_words_of_the_design():
    assert label(vocabulary.CAUSE_LABELS, "attitude") == "工作态度问题"
    assert label(vocabulary.MEASURE_LABELS, "video_verification") == "远程连线、视频验证"
    assert label(vocabulary.MEASURE_LABELS, "deferred_materials") == "容缺受理"
    assert label(vocabulary.SANCTION_LABELS, "dismissal") == "辞退"
    assert label(vocabulary.TYPE_LABELS, "pending") == "暂时办不了"
    assert label(vocabulary.RATING_LEVEL_LABELS, 1) == "非常不满意"


def test_an_unknown_code_shows_as_it_is_and_nothing_as_empty():
    assert label(vocabulary.TYPE_LABELS, "someday") == "someday"
    assert label(vocabulary.RATING_LEVEL_LABELS, 7) == "7"
    assert label(vocabulary.TYPE_LABELS, None) == ""


def test_no_importer_can_change_a_table():
    with pytest.raises(TypeError):
        vocabulary.CAUSE_LABELS["attitude"] = "服务态度差"
