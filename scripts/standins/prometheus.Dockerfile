# Stand-in for prom/prometheus (CI has no registry): Debian's prometheus, with busybox's
# wget for the healthcheck as in the official image.
ARG BASE
FROM ${BASE}
RUN mkdir -p /prometheus /etc/prometheus && chown nobody:nogroup /prometheus \
 && ln -s /bin/busybox /usr/local/bin/wget
USER nobody
VOLUME /prometheus
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
