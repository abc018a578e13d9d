"""What subcommands that call a service share: an authenticated channel, grpc
errors turned into readable command-line errors, every item of a paged list, and
messages as JSON."""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from mhin_platform.processes import PLATFORM

PAGE_SIZE = 200
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def token_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--token`` (or MHIN_TOKEN): the bearer token a command calls services with."""
    return click.option(
        "--token", envvar="MHIN_TOKEN", required=True, show_envvar=True,
        help="Bearer token (see `mhin token issue`).",
    )(command)


def address_option(service: str) -> Callable[..., Any]:
    """``--address`` (or MHIN_<SERVICE>_ADDRESS) of one service's gRPC server,
    by default where `make run` starts it (``mhin_platform.processes``)."""
    spec = {spec.name: spec for spec in PLATFORM}[service]
    return click.option(
        "--address", envvar=spec.address_variable, default=f"127.0.0.1:{spec.grpc_port}",
        show_default=True, show_envvar=True, help=f"host:port of the {service} service.",
    )


class ServiceCommand:
    """What a command that calls one service takes: ``--address`` of that service,
    ``--token`` and ``--json``; a failed call ends it with a readable error."""

    def __init__(self, service: str) -> None:
        self._address = address_option(service)

    def __call__(self, command: Callable[..., Any]) -> Callable[..., Any]:
        return self.without_json(json_option(command))

    def without_json(self, command: Callable[..., Any]) -> Callable[..., Any]:
        """``--address`` and ``--token`` only, for a command that prints JSON always
        or words its own ``--json``."""

        @functools.wraps(command)
        def with_readable_errors(*args: Any, **kwargs: Any) -> Any:
            with readable_rpc_errors():
                return command(*args, **kwargs)

        return self._address(token_option(with_readable_errors))


def connect(address: str, token: str) -> grpc.Channel:
    """A channel to ``address`` (host:port) whose every call carries the bearer token."""
    return grpc.intercept_channel(grpc.insecure_channel(address), _BearerToken(token))


@contextmanager
def readable_rpc_errors() -> Iterator[None]:
    """Turn a failed call into a click error showing its status code and details."""
    try:
        yield
    except grpc.RpcError as exc:
        raise click.ClickException(f"{exc.code().name}: {exc.details()}") from None


def all_pages(list_page: Callable[[Any], Any], request: Any, items: str) -> Iterator[Any]:
    """Every item of a paged list RPC, page after page."""
    request.page.page_size = request.page.page_size or PAGE_SIZE
    while True:
        page = list_page(request)
        yield from getattr(page, items)
        if not page.page.next_page_token:
            return
        request.page.page_token = page.page.next_page_token


def message_dict(message: Message) -> dict[str, Any]:
    """A message as JSON would show it, with the .proto field names."""
    return MessageToDict(message, preserving_proto_field_name=True)


class _CallDetails(
    namedtuple("_CallDetails", "method timeout metadata credentials wait_for_ready compression"),
    grpc.ClientCallDetails,
):
    pass


class _BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to the metadata of every call."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _intercept(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        with_token = _CallDetails(
            details.method,
            details.timeout,
            (*(details.metadata or ()), self._header),
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )
        return continuation(with_token, request)

    # The request argument is a message or an iterator of them; either way it passes through.
    intercept_unary_unary = intercept_unary_stream = _intercept
    intercept_stream_unary = intercept_stream_stream = _intercept
