"""A multi-language component package's SDK, written the way Pulumi generates them (awsx and
the like): the component class registers with `remote=True`, declares its outputs as getters,
and the package registers its module so the engine's type token finds the class."""

from typing import Any

import pulumi


class Cluster(pulumi.ComponentResource):
    """Constructed by the package's provider plugin: a program sees its outputs only."""

    def __init__(
        self, name: str, size: pulumi.Input[int], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {"size": size, "endpoint": None, "node_count": None}
        super().__init__("acme:index:Cluster", name, props, opts, remote=True)

    @property
    @pulumi.getter
    def endpoint(self) -> pulumi.Output[str]:
        return pulumi.get(self, "endpoint")

    @property
    @pulumi.getter(name="nodeCount")
    def node_count(self) -> pulumi.Output[int]:
        return pulumi.get(self, "node_count")


class _Module(pulumi.runtime.ResourceModule):
    mod_info = {"pkg": "acme", "mod": "index", "fqn": "pulumi_acme", "classes": {
        "acme:index:Cluster": "Cluster"
    }}

    def version(self) -> None:
        return None

    def construct(self, name: str, typ: str, urn: str) -> pulumi.Resource:
        return Cluster(name, size=0, opts=pulumi.ResourceOptions(urn=urn))


pulumi.runtime.register_resource_module("acme", "index", _Module())
