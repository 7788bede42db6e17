"""Local stand-ins for services Klaxon calls over HTTP (Slack, a Web Push service, webhook
receivers): real sockets, real protocol checks, every request recorded."""
