"""autopost: the domain and adapters shared by every Lambda function (built as a layer)."""
