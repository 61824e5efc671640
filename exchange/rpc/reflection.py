"""Server reflection under both names tools ask for: ``grpc.reflection.v1`` (grpcurl and current tools)
and ``grpc.reflection.v1alpha`` (older ones).

grpcio-reflection ships only v1alpha. The v1 protocol is the same messages with the
same field numbers under another package, so the one servicer answers both: v1
calls are registered with the same (wire-identical) message classes. So that v1
itself can be described (``grpcurl describe grpc.reflection.v1.ServerReflection``),
its file descriptor is derived from v1alpha's with the package renamed and kept in
a private descriptor pool, never the default one (where an official v1 module
may be imported one day).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1_SERVICE = "grpc.reflection.v1.ServerReflection"
V1ALPHA_SERVICE: str = reflection.SERVICE_NAME
V1_FILE = "grpc/reflection/v1/reflection.proto"
_ALPHA_PACKAGE = ".grpc.reflection.v1alpha."
_V1_PACKAGE = ".grpc.reflection.v1."


def v1_file() -> descriptor_pb2.FileDescriptorProto:
    """``grpc/reflection/v1/reflection.proto``: v1alpha's descriptor under the v1 package and options."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = V1_FILE
    proto.package = "grpc.reflection.v1"
    for message in proto.message_type:
        for f in message.field:
            if f.type_name.startswith(_ALPHA_PACKAGE):
                f.type_name = _V1_PACKAGE + f.type_name[len(_ALPHA_PACKAGE) :]
    for service in proto.service:
        for m in service.method:
            m.input_type = _V1_PACKAGE + m.input_type[len(_ALPHA_PACKAGE) :]
            m.output_type = _V1_PACKAGE + m.output_type[len(_ALPHA_PACKAGE) :]
    proto.options.Clear()
    proto.options.java_package = "io.grpc.reflection.v1"
    proto.options.java_outer_classname = "ServerReflectionProto"
    proto.options.java_multiple_files = True
    proto.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    return proto


class _Pools:
    """The default descriptor pool, then a private one holding the v1 reflection file (KeyError: not found)."""

    def __init__(self, *pools: descriptor_pool.DescriptorPool) -> None:
        self._pools = pools

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def find(*args: Any) -> Any:
            for pool in self._pools[:-1]:
                try:
                    return getattr(pool, name)(*args)
                except KeyError:
                    pass
            return getattr(self._pools[-1], name)(*args)

        return find


def enable(server: grpc.aio.Server, service_names: Iterable[str]) -> None:
    """Serve reflection for ``service_names`` (and both reflection services) under v1 and v1alpha."""
    private = descriptor_pool.DescriptorPool()
    private.Add(v1_file())
    names = (*service_names, V1ALPHA_SERVICE, V1_SERVICE)
    servicer = reflection.aio.ReflectionServicer(names, pool=_Pools(descriptor_pool.Default(), private))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(V1_SERVICE, {"ServerReflectionInfo": v1}),))
