"""What the CLI's commands share, without a service: where they find each service by
default, and paging through a list RPC."""

from __future__ import annotations

import click

from mhin.needs.v1 import needs_pb2
from mhin_cli.client import PAGE_SIZE, all_pages
from mhin_cli.main import cli
from mhin_platform.processes import PLATFORM


class PagedNeeds:
    """A ListNeeds that answers pages of ``size`` from ``count`` needs, as a server does."""

    def __init__(self, count: int, size: int) -> None:
        self.ids = [f"need-{n}" for n in range(count)]
        self.size = size
        self.requests: list[needs_pb2.ListNeedsRequest] = []

    def __call__(self, request: needs_pb2.ListNeedsRequest) -> needs_pb2.ListNeedsResponse:
        self.requests.append(needs_pb2.ListNeedsRequest().FromString(request.SerializeToString()))
        start = int(request.page.page_token or 0)
        end = start + self.size
        token = str(end) if end < len(self.ids) else ""
        return needs_pb2.ListNeedsResponse(
            needs=[needs_pb2.Need(id=i) for i in self.ids[start:end]],
            page={"next_page_token": token})


def test_every_item_of_every_page_in_order_with_the_filters_kept():
    list_needs = PagedNeeds(count=7, size=3)
    request = needs_pb2.ListNeedsRequest(arc=2)

    ids = [need.id for need in all_pages(list_needs, request, "needs")]

    assert ids == list_needs.ids
    assert [r.page.page_token for r in list_needs.requests] == ["", "3", "6"]
    assert {r.arc for r in list_needs.requests} == {2}
    assert {r.page.page_size for r in list_needs.requests} == {PAGE_SIZE}


def test_a_page_size_the_command_chose_is_kept():
    list_needs = PagedNeeds(count=2, size=5)
    request = needs_pb2.ListNeedsRequest(page={"page_size": 5})
    assert len(list(all_pages(list_needs, request, "needs"))) == 2
    assert list_needs.requests[0].page.page_size == 5


def _commands(group: click.Group) -> list[click.Command]:
    found: list[click.Command] = []
    for command in group.commands.values():
        found += _commands(command) if isinstance(command, click.Group) else [command]
    return found


def test_every_command_calls_a_service_where_make_run_starts_it():
    addresses = {spec.address_variable: f"127.0.0.1:{spec.grpc_port}"
                 for spec in PLATFORM if spec.grpc_port is not None}
    options = [(command.name, option.envvar, option.default) for command in _commands(cli)
               for option in command.params if option.name == "address"]
    assert len(options) > 40, "the service commands were found"
    assert [(name, variable, default) for name, variable, default in options
            if addresses.get(variable) != default] == []
    assert {variable for _, variable, _ in options} == set(addresses)

