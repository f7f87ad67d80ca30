"""The jail side of the sandbox: what runs in the zygote and in each session, inside the
namespaces (the fork server, the session's main loop, the namespace and root setup, the seccomp
filter, the import allowlist, the code runner and its figure capture). The host side (the
`Sandbox` API, the zygote client, processes, limits and cgroups) is the `sandbox` package
around it; `sandbox.protocol`, `sandbox.result`, `sandbox.cgroups` and `sandbox._libc` are used
by both."""
