{
  "targets": [
    {
      "target_name": "unix_socket",
      "sources": ["unix-socket.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
