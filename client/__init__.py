"""Gateway client, task states and the background job runner. No bpy here."""
