"""The local stack: template.yaml's resources on moto, its functions run in-process."""
