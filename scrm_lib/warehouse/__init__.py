"""The build: staging the exports, the canonical transform, the build steps,
publishing, the build log and data health."""
