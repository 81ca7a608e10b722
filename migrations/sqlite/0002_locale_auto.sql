-- Accounts follow the browser's language until their owner picks one (the setting was not
-- offered before, so every stored 'zh-CN' is the old default, not a choice).
UPDATE accounts SET locale = 'auto' WHERE locale = 'zh-CN';
