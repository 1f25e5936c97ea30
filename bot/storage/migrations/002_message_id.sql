-- Version 2: the caller's id of a message (ChatRequest.message_id), so that a retry of a message
-- whose reply was lost is answered from the stored turn instead of becoming a second turn.
ALTER TABLE turns ADD COLUMN message_id TEXT;
CREATE UNIQUE INDEX turns_by_message ON turns (shop, session_id, message_id) WHERE message_id IS NOT NULL;
