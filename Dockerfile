# Multi-stage build: a static, pure-Go binary (the embedded SQLite driver needs no cgo) in a
# distroless image, run as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/switchboard . \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/switchboard /switchboard
COPY --from=build --chown=65532:65532 /out/data /data
ENV SWITCHBOARD_DB=/data/switchboard.db
# Every interface of the container, also in demo mode (which otherwise keeps to 127.0.0.1):
# who reaches it is decided by the ports you publish.
ENV SWITCHBOARD_ADDR=:8080
VOLUME /data
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/switchboard"]
