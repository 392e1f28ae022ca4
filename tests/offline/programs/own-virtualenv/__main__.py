"""A program that runs with its own virtualenv (Pulumi.yaml `runtime.options.virtualenv`): it
reports the interpreter it ran with."""

import sys

import pulumi
import pulumi_random as random

token = random.RandomId("token", byte_length=8)

pulumi.export("interpreter", sys.executable)
pulumi.export("virtualenv", sys.prefix)
pulumi.export("token", token.hex)
