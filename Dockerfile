# syntax=docker/dockerfile:1
# The Parley server as a container image: a build stage with the Rust
# toolchain, and a slim runtime stage that runs `parley serve` as an
# unprivileged user with its data directory as a volume.
#
#   docker build -t parley .
#   docker run -p 7070:7070 -v parley-data:/var/lib/parley parley
#
# See deploy/ for docker-compose with PostgreSQL and Redis, and a systemd
# unit.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
# The caches keep the registry and the build between image builds; the
# binary is copied out of the cached target directory, which is not part
# of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --profile dist -p parley-server \
    && cp target/dist/parley /usr/local/bin/parley

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# curl is only for the health check; the server needs no system library
# beyond libc (SQLite is built in, TLS is rustls with its own roots).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 parley \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/parley \
        --shell /usr/sbin/nologin parley \
    && mkdir -p /var/lib/parley \
    && chown 10001:10001 /var/lib/parley
COPY --from=build /usr/local/bin/parley /usr/local/bin/parley
USER 10001:10001
WORKDIR /var/lib/parley
# Listen on every interface inside the container, and keep the SQLite
# store, the uploads and the generated credentials in the volume.
ENV PARLEY_LISTEN=0.0.0.0:7070 \
    PARLEY_DATA_DIR=/var/lib/parley
VOLUME ["/var/lib/parley"]
EXPOSE 7070
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:7070/readyz"]
ENTRYPOINT ["/usr/local/bin/parley"]
CMD ["serve"]
