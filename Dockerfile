# Latchkey in a container: a multi-stage build, a small non-root runtime, the data dir on a
# volume. Build: `docker build -t latchkey .`; run: see docs/production.md.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p latchkey-server \
    && cp target/release/latchkey /usr/local/bin/latchkey

FROM debian:bookworm-slim
# ca-certificates is left unpinned on purpose: it must follow Debian's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin latchkey \
    && install -d -o latchkey -g latchkey -m 0700 /data
COPY --from=build /usr/local/bin/latchkey /usr/local/bin/latchkey
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# The public URL is what clients see (set LATCHKEY_SERVER__PUBLIC_URL); the data dir holds
# the SQLite database (unless DATABASE_URL names PostgreSQL), bootstrap.json and the outbox.
ENTRYPOINT ["latchkey"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/data"]
