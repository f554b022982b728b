# Stand-in for postgres:16 (CI has no registry): Debian's PostgreSQL 15 with an entrypoint
# that honours the official image's POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB /
# POSTGRES_INITDB_ARGS / PGDATA, and runs as the postgres account.
ARG BASE
FROM ${BASE}
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
RUN rm -rf /var/lib/postgresql/15 /etc/postgresql/15 \
 && mkdir -p "$PGDATA" /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 0700 "$PGDATA" && chmod 3777 /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
