{
  "targets": [
    {
      "target_name": "udp_recv",
      "sources": ["native/udp_recv.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
