import Testing

@Test func demoTestsBuild() {
    #expect(Bool(true))
}
