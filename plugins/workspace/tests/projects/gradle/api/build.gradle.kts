dependencies {
    implementation(project(":engine"))
}
