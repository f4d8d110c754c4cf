"""Reading free-text fields of a request body (pure): one rule for every service's forms."""

from collections.abc import Mapping

from services.common.errors import InvalidField


def text_field(
    payload: Mapping, name: str, label: str, *, max_length: int, required: bool = True
) -> str | None:
    """``payload[name]`` stripped; a blank optional field is None; errors name the field."""
    value = payload.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidField(f"缺少{label}", name)
        return None
    if not isinstance(value, str):
        raise InvalidField(f"{label}应为文本", name)
    if len(value) > max_length:
        raise InvalidField(f"{label}不能超过 {max_length} 字", name)
    return value.strip()
