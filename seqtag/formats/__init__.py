"""Data formats: the registry (name -> task, reader, writer, how to recognise it) and one module per format
family. The only place that opens data files."""
