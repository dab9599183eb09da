# The Lambda runtime the artifact is built for: must match Runtime and Architectures in
# sam-template.yaml's Globals (tests/packaging checks that it does). Override on the command
# line for other functions, e.g. `make package LAMBDA_ARCH=x86_64`.
LAMBDA_ARCH ?= arm64
LAMBDA_PYTHON_VERSION ?= 3.13
