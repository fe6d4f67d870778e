# syntax=docker/dockerfile:1
#
# poolcheck in a container, for sweeps spread over many machines (README, "Sweeps at
# scale"; deploy/k8s/ and .github/workflows/sweep.yml use it).
#
#   docker build -t poolcheck .
#   docker run --rm poolcheck sim --seeds 10000 --no-progress
#   docker run --rm -e POOLCHECK_SHARD_INDEX=0 -e POOLCHECK_SHARD_COUNT=4 \
#     -v "$PWD/results:/results" poolcheck \
#     sim --shard auto --seeds 100000 --no-progress --json-out /results/shard-0.json
#
# The image carries the `poolcheck` binary alone: `sim`, `merge`, `serve`, `demo` and
# `soak` run in it; `drivers` needs Python and Node, which it does not have.

# ---- builder: the release binary ------------------------------------------------------
# The slim Rust image has gcc and libc headers, which `ring` (TLS, through the mongodb
# driver) needs; nothing links OpenSSL.
ARG RUST_VERSION=1
FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /src
# Backtraces keep file and line; the rest of the debug info stays out of the image.
ENV CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    CARGO_TERM_COLOR=never
COPY . .
# Dependency caching: the registry, git checkouts and target/ live in BuildKit cache
# mounts, so a rebuild after a source change recompiles poolcheck's crates, not the
# dependencies. The binary is copied out of the cache mount to a plain layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin poolcheck \
    && install -D -m 0755 target/release/poolcheck /out/poolcheck

# ---- runtime: glibc and libgcc, no shell, no package manager ----------------------------
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /out/poolcheck /usr/local/bin/poolcheck
# distroless's `nonroot` user; result volumes must be writable by uid/gid 65532.
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["poolcheck"]
CMD ["sim", "--no-progress"]
