#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Output goes through printLine/printError: one write(2) per line, never buffered, so a parent
// process (or a pipe to `grep`) sees each line as it happens.
unblockStopSignals()
exit(await runDemo(arguments: Array(CommandLine.arguments.dropFirst())))
