"""Domain errors: their shape, their HTTP status, and their trip across nameko RPC."""

import pickle

import pytest
from nameko.exceptions import RemoteError, deserialize, deserialize_to_instance, serialize

from services.common import errors
from services.common.errors import (
    ERRORS_BY_NAME,
    BadRequest,
    BanchengError,
    Conflict,
    Forbidden,
    InvalidField,
    NotFound,
    PayloadTooLarge,
    ServiceFault,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)

EXPECTED = [
    (BanchengError, "error", 400),
    (InvalidField, "invalid_field", 422),
    (NotFound, "not_found", 404),
    (Forbidden, "forbidden", 403),
    (Unauthorized, "unauthorized", 401),
    (Conflict, "conflict", 409),
    (TooManyRequests, "too_many_requests", 429),
    (PayloadTooLarge, "payload_too_large", 413),
    (BadRequest, "bad_request", 400),
    (ServiceUnavailable, "service_unavailable", 503),
    (ServiceFault, "internal_error", 500),
]
ALL_CLASSES = [cls for cls, _, _ in EXPECTED]


@pytest.fixture(autouse=True, scope="module")
def registered():
    """Register the errors as the gateway does, so they come back as instances."""
    for cls in ERRORS_BY_NAME.values():
        deserialize_to_instance(cls)


def round_trip(exc):
    return deserialize(serialize(exc))


# --- shape and status --------------------------------------------------------------------------


@pytest.mark.parametrize("cls, code, status", EXPECTED, ids=lambda v: getattr(v, "__name__", v))
def test_code_and_status_per_class(cls, code, status):
    error = cls("出错了")
    assert error.code == code
    assert error.status == status
    assert cls.code == code and cls.status == status


@pytest.mark.parametrize("cls", ALL_CLASSES[1:])
def test_every_error_is_a_bancheng_error(cls):
    assert issubclass(cls, BanchengError)
    assert issubclass(cls, Exception)


def test_registry_lists_every_error_by_class_name():
    assert ERRORS_BY_NAME == {cls.__name__: cls for cls in ALL_CLASSES}
    defined = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, BanchengError)
    }
    assert set(ERRORS_BY_NAME.values()) == defined


def test_as_dict_shape():
    error = InvalidField("联系电话格式不正确", "applicant.phone")
    assert error.as_dict() == {
        "code": "invalid_field",
        "message": "联系电话格式不正确",
        "field": "applicant.phone",
    }


@pytest.mark.parametrize("field", [None, ""])
def test_as_dict_without_a_field_has_field_none(field):
    assert NotFound("事项不存在", field).as_dict() == {
        "code": "not_found",
        "message": "事项不存在",
        "field": None,
    }


def test_attributes():
    error = Forbidden("窗口工作人员只能查看本场所的事项", "site")
    assert error.message == "窗口工作人员只能查看本场所的事项"
    assert error.field == "site"


def test_code_can_be_overridden_per_instance_only():
    error = Conflict("事项已归档", code="case_archived")
    assert error.code == "case_archived"
    assert error.as_dict()["code"] == "case_archived"
    assert error.status == 409
    assert Conflict.code == "conflict"
    assert Conflict("another").code == "conflict"


def test_empty_code_keeps_the_class_code():
    assert InvalidField("x", "f", code="").code == "invalid_field"


def test_args_carry_message_field_and_code():
    assert InvalidField("x", "applicant.phone").args == ("x", "applicant.phone", "")
    assert Conflict("y", code="case_archived").args == ("y", "", "case_archived")


def test_errors_can_be_raised_and_caught_as_the_base():
    with pytest.raises(BanchengError) as info:
        raise Unauthorized("登录已过期，请重新登录")
    assert info.value.status == 401


def test_errors_survive_pickling():
    error = pickle.loads(pickle.dumps(InvalidField("x", "applicant.phone", code="bad_phone")))
    assert type(error) is InvalidField
    assert error.as_dict() == {"code": "bad_phone", "message": "x", "field": "applicant.phone"}


# --- nameko RPC serialisation ------------------------------------------------------------------


def test_invalid_field_survives_the_rpc_round_trip():
    error = round_trip(InvalidField("x", "applicant.phone"))
    assert isinstance(error, InvalidField)
    assert error.field == "applicant.phone"
    assert error.code == "invalid_field"
    assert error.message == "x"
    assert error.status == 422


def test_error_without_a_field_comes_back_with_field_none():
    error = round_trip(NotFound("事项 XW-20261129-00042-XJK 不存在"))
    assert isinstance(error, NotFound)
    assert error.field is None
    assert error.as_dict() == {
        "code": "not_found",
        "message": "事项 XW-20261129-00042-XJK 不存在",
        "field": None,
    }


@pytest.mark.parametrize("cls", ALL_CLASSES)
@pytest.mark.parametrize("field", [None, "site"])
def test_every_error_class_round_trips(cls, field):
    original = cls("中文消息：不能为空", field)
    error = round_trip(original)
    assert type(error) is cls
    assert error.as_dict() == original.as_dict()
    assert error.status == original.status


def test_overridden_code_survives_the_round_trip():
    error = round_trip(Conflict("事项已归档", "case_no", code="case_archived"))
    assert error.as_dict() == {"code": "case_archived", "message": "事项已归档", "field": "case_no"}


def test_serialised_form_is_plain_json_data():
    data = serialize(InvalidField("x", "applicant.phone"))
    assert data["exc_type"] == "InvalidField"
    assert data["exc_path"] == "services.common.errors.InvalidField"
    assert data["exc_args"] == ["x", "applicant.phone", ""]


def test_unregistered_error_becomes_a_remote_error():
    class Unlisted(BanchengError):
        code = "unlisted"

    error = round_trip(Unlisted("x", "f"))
    assert isinstance(error, RemoteError)
    assert error.exc_type == "Unlisted"


def test_a_fault_crosses_rpc_with_its_error_id():
    fault = round_trip(ServiceFault("系统内部错误，错误编号 0123abcd", code="0123abcd"))
    assert isinstance(fault, ServiceFault)
    assert fault.as_dict() == {
        "code": "internal_error",
        "message": "系统内部错误，错误编号 0123abcd",
        "field": None,
        "id": "0123abcd",
    }
