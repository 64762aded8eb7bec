"""The handshake's join parameters: role, after and log."""

import pytest

from service.gateway import HandshakeRejected, JoinRequest, Role, parse_target


def test_defaults_join_as_a_writer_from_the_start() -> None:
    join = parse_target("/v1/realtime?conversation=c")
    assert join == JoinRequest("c", "chorus", Role.WRITER, 0, None)


def test_observer_resuming_in_a_named_log() -> None:
    join = parse_target("/v1/realtime?conversation=c&role=observer&after=42&log=log_x")
    assert (join.role, join.after, join.log_id) == (Role.OBSERVER, 42, "log_x")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("role=admin", "invalid_role"),
        ("role=", "invalid_role"),
        ("after=-1", "invalid_position"),
        ("after=1.5", "invalid_position"),
        ("after=", "invalid_position"),
        ("after=" + "9" * 19, "invalid_position"),
    ],
)
def test_bad_join_parameters_are_refused(query: str, code: str) -> None:
    with pytest.raises(HandshakeRejected) as rejected:
        parse_target(f"/v1/realtime?conversation=c&{query}")
    assert (rejected.value.status, rejected.value.code) == (400, code)
