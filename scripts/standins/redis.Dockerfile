# Stand-in for redis:7 (CI has no registry): Debian's redis-server, data in /data.
ARG BASE
FROM ${BASE}
RUN mkdir -p /data && chown redis:redis /data && chmod 0750 /data
VOLUME /data
WORKDIR /data
EXPOSE 6379
CMD ["redis-server"]
